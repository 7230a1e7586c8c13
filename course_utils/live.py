"""その場の入力を受け取る部品: マウスや指で描いた数字（04・06）と、カメラで撮った写真（07）。

ブラウザの側は anywidget（JupyterLab の ipywidgets 8 と、Colab の ipywidgets 7.7.1 + anywidget
0.9.21 の両方で動く）で書き、Python の側は ipywidgets で組み立てる。
- DigitPad: 描いた線 → 280×280 の画像 → ノートブックの前処理 → 28×28 → ノートブックの予測関数 → 確率の棒。
  前処理と予測はノートブックが書き、この部品は線の受け渡しと表示だけをする。
- CameraCapture: カメラの映像から 1 枚撮り、PIL の画像にして分類の関数に渡す（course_utils.camera にあり、
  07 がここから読み込めるように名前を出している）。
- load_drawn_digits / check_strokes: 描いた数字のファイルを読む・線の形を確かめる（course_utils.digit_files
  にあり、ノートブックがここから読み込めるように名前を出している）。
- prepare_raw / prepare_like_mnist: 04 のノートブックで書いた 2 つの前処理と同じもの（06 で使う。
  同じ結果になることを tests/test_live.py が確かめる）。
"""

from __future__ import annotations

import html
import io
import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import traitlets
from IPython.display import display
from PIL import Image, ImageDraw

# 描いた数字のファイルの読み書きは digit_files に。ノートブックが live から読み込めるように名前も出す
from course_utils.digit_files import (CANVAS_SIZE, DRAWN_DIGITS_FILE, MAX_FILE_BYTES, MAX_POINTS,
                                      MAX_STROKES, Strokes, append_example, check_strokes, describe,
                                      expand_path, load_drawn_digits)
# カメラの部品は camera に。07 が live から読み込めるように名前も出す
from course_utils.camera import (BROKEN_PHOTO, CAMERA_ERRORS, CAMERA_PHOTO, UPLOAD_INSTEAD, CameraCapture,
                                 CameraView, camera_error_message, decode_photo)
from course_utils.env import NeedsPackages, optional_import
from course_utils.name_errors import error_hint, not_ready_note
from course_utils.time_limit import TimedOut, call_with_limit, function_words, timeout_message

__all__ = ["BROKEN_PHOTO", "CAMERA_ERRORS", "CAMERA_PHOTO", "CANVAS_SIZE", "DRAWN_DIGITS_FILE",
           "LINE_WIDTH", "MAX_FILE_BYTES", "MAX_POINTS", "MAX_STROKES", "MNIST_CENTRE", "NEEDS",
           "PREPARATIONS_FORM", "PROBABILITY_TOLERANCE", "UPLOAD_INSTEAD", "CameraCapture",
           "CameraView", "DigitCanvas", "DigitPad", "Strokes", "camera_error_message",
           "check_strokes", "decode_photo", "load_drawn_digits", "prepare_like_mnist", "prepare_raw",
           "probability_bars", "probability_problem", "render_strokes"]

# 入っていない・壊れている（版の食い違いなど）・講座が使う部品が欠けているときは None。
# 部品を作ると理由と直し方を表示する（NeedsPackages）
NEEDS = {"ipywidgets": ("Button", "Dropdown", "HBox", "HTML", "Image", "Layout",
                        "ToggleButtons", "VBox"),
         "anywidget": ("AnyWidget",)}
widgets = optional_import("ipywidgets", NEEDS["ipywidgets"])
anywidget = optional_import("anywidget", NEEDS["anywidget"])
# DigitCanvas を定義だけはできるように（読み込めないときは使われない）
_AnyWidget = anywidget.AnyWidget if anywidget is not None and widgets is not None else object

LINE_WIDTH = 18  # 線の太さ（28×28 に縮めると 2 画素ほど。MNIST の線の太さに近い）
# MNIST の数字の重心の位置（行も列も、0 から数えた画素の番号）。28 画素の真ん中の 13.5 ではない。
# 訓練画像の重心の平均は (14.0, 14.0) で、そこからのずれは整数の画素数でずらした丸めの分だけ（04 で測る）
MNIST_CENTRE = 14.0
PROBABILITY_TOLERANCE = 0.01  # 確率の合計が 1 からこれ以上ずれたら、確率ではないと伝える


def _hint(error: BaseException) -> str:
    """関数のエラーの後に添える直し方（NameError のときだけ。「 → 」で区切る）。"""
    hint = error_hint(error)
    return f" → {hint}" if hint else ""


class DigitCanvas(_AnyWidget):
    """黒い枠に白い線で描く部品。線を引き終えるたびに strokes が Python に届く。"""

    _esm = """
    function render({ model, el }) {
      const size = model.get("size");
      const canvas = document.createElement("canvas");
      canvas.width = size;
      canvas.height = size;
      canvas.className = "course-digit-canvas";
      canvas.style.cssText = `width:${size}px;height:${size}px;background:#000;border:2px solid #666;` +
        "border-radius:4px;touch-action:none;cursor:crosshair";
      const ctx = canvas.getContext("2d");
      let strokes = [];
      let current = null;
      let count = 0;  // 点の数。max_points を超えたら、それ以上は足さない（巨大な線を Python に送らない）
      const counted = () => strokes.reduce((n, stroke) => n + stroke.length, 0);
      function redraw() {
        ctx.fillStyle = "#000";
        ctx.fillRect(0, 0, size, size);
        ctx.strokeStyle = "#fff";
        ctx.fillStyle = "#fff";
        ctx.lineWidth = model.get("line_width");
        ctx.lineCap = "round";
        ctx.lineJoin = "round";
        for (const stroke of strokes) {
          if (stroke.length === 1) {  // 点だけ
            ctx.beginPath();
            ctx.arc(stroke[0][0], stroke[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
            ctx.fill();
            continue;
          }
          ctx.beginPath();
          ctx.moveTo(stroke[0][0], stroke[0][1]);
          for (const [x, y] of stroke.slice(1)) ctx.lineTo(x, y);
          ctx.stroke();
        }
      }
      function point(event) {
        const box = canvas.getBoundingClientRect();
        const x = Math.round((event.clientX - box.left) * size / box.width);
        const y = Math.round((event.clientY - box.top) * size / box.height);
        return [Math.min(Math.max(x, 0), size), Math.min(Math.max(y, 0), size)];
      }
      let pointer = null;  // 描いている指（ペン、マウス）の番号。2 本目の指や右ボタンは無視する
      canvas.addEventListener("pointerdown", (event) => {
        if (!event.isPrimary || event.button !== 0 || current) return;
        if (count >= model.get("max_points")) return;
        pointer = event.pointerId;
        canvas.setPointerCapture(event.pointerId);
        current = [point(event)];
        strokes.push(current);
        count += 1;
        redraw();
      });
      canvas.addEventListener("pointermove", (event) => {
        if (!current || event.pointerId !== pointer || count >= model.get("max_points")) return;
        current.push(point(event));
        count += 1;
        redraw();
      });
      const finish = (event) => {
        if (!current || event.pointerId !== pointer) return;
        current = null;
        pointer = null;
        model.set("strokes", strokes.map((stroke) => stroke.map((p) => [p[0], p[1]])));
        model.save_changes();
      };
      canvas.addEventListener("pointerup", finish);
      canvas.addEventListener("pointercancel", finish);
      canvas.addEventListener("lostpointercapture", finish);
      function load() {  // Python から届いた線（壊れたものは Python の側が断って空にする）
        const given = model.get("strokes");
        strokes = Array.isArray(given) ? given.filter(Array.isArray).map(
          (stroke) => stroke.filter(Array.isArray).map((p) => [p[0], p[1]])) : [];
        count = counted();
        redraw();
      }
      model.on("change:strokes", load);
      load();
      el.appendChild(canvas);
    }
    export default { render };
    """
    strokes = traitlets.List([]).tag(sync=True)
    size = traitlets.Int(CANVAS_SIZE).tag(sync=True)
    line_width = traitlets.Int(LINE_WIDTH).tag(sync=True)
    max_points = traitlets.Int(MAX_POINTS).tag(sync=True)


def render_strokes(strokes: Strokes, size: int = CANVAS_SIZE, line_width: int = LINE_WIDTH
                   ) -> np.ndarray:
    """線を、ブラウザの枠と同じ太さ・丸い端で描いた (size, size) の画像にする（背景 0、インク 1）。"""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    radius = line_width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=line_width)
        for x, y in points:  # 点ごとに丸を置いて、線の端と折れ目を丸くする（ブラウザの round と同じ）
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    return np.asarray(image, dtype=np.float32) / 255


def prepare_raw(image: np.ndarray) -> np.ndarray:
    """04 の prepare_raw: 280×280 の画像を 10×10 画素ずつ平均して 28×28 にする（前処理なし）。"""
    return image.reshape(28, 10, 28, 10).mean(axis=(1, 3))


def prepare_like_mnist(image: np.ndarray, threshold: float = 0.1,
                       centre: float = MNIST_CENTRE) -> np.ndarray:
    """04 の prepare_mnist: 縦横比を保って 20×20 に収め、重心を MNIST と同じ画素の番号 centre に置く。"""
    rows, cols = np.nonzero(image > threshold)
    if len(rows) == 0:
        return np.zeros((28, 28), dtype=np.float32)
    crop = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1].astype(np.float32)
    scale = 20 / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray(crop).resize((w, h), Image.BOX))
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / small.sum(), (xs * small).sum() / small.sum()
    top = int(np.clip(round(centre - cy), 0, 28 - h))  # 整数の画素数だけずらす（MNIST と同じ）
    left = int(np.clip(round(centre - cx), 0, 28 - w))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top:top + h, left:left + w] = small
    return np.clip(out, 0, 1)


def _png(image28: np.ndarray, scale: int = 5) -> bytes:
    """28×28 の画像（0〜1）を、画素が見える大きさに拡大した PNG にする（白黒は MNIST の表示と同じ）。"""
    pixels = (np.clip(np.asarray(image28, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    image = Image.fromarray(pixels, "L").resize((28 * scale, 28 * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def probability_bars(probabilities: Sequence[float]) -> str:
    """10 クラスの確率を、横棒と数で表す HTML（いちばん高いクラスは太字と「← 予測」でも示す）。"""
    best = int(np.argmax(probabilities))
    rows = []
    for k, p in enumerate(probabilities):
        mark = "<b>← 予測</b>" if k == best else ""
        weight = "bold" if k == best else "normal"
        rows.append(
            f"<div class='course-prob-row' style='display:flex;align-items:center;gap:6px;font-weight:{weight}'>"
            f"<span style='width:1.2em;text-align:right'>{k}</span>"
            f"<span style='display:inline-block;width:160px;height:12px;background:#eee'>"
            f"<span style='display:block;width:{160 * float(p):.0f}px;height:12px;"
            f"background:{'#1f4e9c' if k == best else '#7a9cc6'}'></span></span>"
            f"<span style='width:4.5em;text-align:right'>{100 * float(p):.1f} %</span>{mark}</div>")
    return "".join(rows)


def probability_problem(probabilities: np.ndarray) -> str | None:
    """予測の関数が返した値が確率（0〜1、合計 1）でなければ、何がおかしいかを日本語で返す（確率なら None）。"""
    p = np.asarray(probabilities, dtype=np.float64)
    if not np.isfinite(p).all():
        what = "NaN（数でない値）が" if np.isnan(p).any() else "無限大が"
        return (f"予測の関数が返した値に {what}入っています。学習が発散していないか（損失が nan に"
                "なっていないか）、前処理した画像がおかしくないかを確かめてください。")
    low, high, total = p.min(), p.max(), p.sum()
    tolerance = PROBABILITY_TOLERANCE
    if high <= 0 and abs(np.exp(p).sum() - 1) <= tolerance:
        return ("予測の関数が返した値は、確率ではなく確率の対数（log_softmax）のようです。"
                "torch.exp をかけるか、torch.softmax を使ってください。")
    if low < -tolerance or high > 1 + tolerance:
        return (f"予測の関数が返した値は 0〜1 の外にあり（最小 {low:.3g}、最大 {high:.3g}）、確率ではなく"
                "ロジットのようです。softmax をかけてください（例: torch.softmax(model(X), dim=1)）。")
    if abs(total - 1) > tolerance:
        return (f"予測の関数が返した 10 個の値の合計が {total:.3g} で、1 になりません（確率なら合計は 1 です）。"
                "softmax をかけてください（例: torch.softmax(model(X), dim=1)。sigmoid では合計が 1 になりません）。")
    return None


PREPARATIONS_FORM = '{"表示名": 関数} の形の辞書（例: {"そのまま縮小": prepare_raw, "MNIST と同じ前処理": prepare_mnist}）'


def _check_arguments(predict, preparations, save_path) -> None:
    """DigitPad の引数の形を確かめる（違えば、期待する形を日本語の TypeError / ValueError で伝える）。"""
    if isinstance(predict, Mapping) and callable(preparations):
        raise TypeError("引数の順番が逆です。DigitPad(予測の関数, 前処理の辞書) の順に渡してください"
                        "（例: DigitPad(predict_digits, preparations)）。")
    if not callable(predict):
        raise TypeError(f"1 つ目の引数 predict には、画像を受け取ってクラスの確率を返す関数を渡してください"
                        f"（渡されたもの: {describe(predict)}）。")
    if hasattr(predict, "parameters") and hasattr(predict, "forward"):
        raise TypeError("1 つ目の引数 predict には、モデルそのものではなく、(N, 1, 28, 28) の NumPy の配列を"
                        "受け取って (N, 10) の確率を返す関数（04 の predict_digits のようなもの）を渡してください。")
    if not isinstance(preparations, Mapping):
        hint = ""
        if callable(preparations):
            hint = "関数が 1 つだけでも、名前を付けた辞書にしてください（例: {\"そのまま縮小\": prepare_raw}）。"
        elif isinstance(preparations, (list, tuple, set)):
            hint = "リストではなく、関数ごとに表示名を付けた辞書にしてください。"
        raise TypeError(f"2 つ目の引数 preparations は、{PREPARATIONS_FORM}で渡してください"
                        f"（渡されたもの: {describe(preparations)}）。{hint}")
    if not preparations:
        raise ValueError(f"前処理の関数を 1 つ以上、{PREPARATIONS_FORM}で渡してください。")
    for name, prepare in preparations.items():
        if not isinstance(name, str):
            raise TypeError(f"preparations の表示名（キー）は文字列にしてください（{describe(name)}があります）。"
                            f"形は {PREPARATIONS_FORM}です。")
        if not callable(prepare):
            raise TypeError(f"前処理「{name}」が関数ではありません（{describe(prepare)}）。"
                            f"形は {PREPARATIONS_FORM}です。")
    if save_path is not None and not isinstance(save_path, (str, os.PathLike)):
        raise TypeError(f"save_path にはファイルの名前（文字列か Path）か None を渡してください"
                        f"（渡されたもの: {describe(save_path)}）。")


def _error(text: str) -> str:
    return f"<span style='color:#b00'>✗ {html.escape(text, quote=False)}</span>"


class DigitPad(NeedsPackages):
    """数字を描くと、前処理した 28×28 の画像と、モデルのクラス確率を表示する部品。

    predict(images) は (N, 1, 28, 28)（0〜1、背景 0）の float32 の配列を受け取り、(N, 10) の確率を返す。
    前処理と予測は演習の答え合わせと同じ時間の上限（TIME_LIMIT_S）で止め、理由を表示する。
    preparations は {表示名: 関数}。関数は (280, 280) の画像（0〜1）を (28, 28) にする。
    「例として保存」は、描いた線と正解のラベルを self.saved に加え、save_path があればそこにも書き足す
    （描いた数字のファイルでないものには書かない。書くときは、途中で失敗しても前の中身が残る書き方をする）。
    """

    packages = NEEDS

    def __init__(self, predict: Callable, preparations: dict[str, Callable],
                 save_path: str | Path | None = "my_drawn_digits.json") -> None:
        _check_arguments(predict, preparations, save_path)
        self.predict = predict
        self.preparations = dict(preparations)
        self.save_path = expand_path(save_path) if save_path else None
        self.saved: list[dict] = []  # この部品で保存した例
        self.canvas = DigitCanvas()
        self.choice = widgets.ToggleButtons(options=list(self.preparations),
                                            description="前処理:")
        self.preview = widgets.Image(format="png", value=_png(np.zeros((28, 28))),
                                     layout=widgets.Layout(width="140px", height="140px"))
        self.bars = widgets.HTML()
        self.message = widgets.HTML()
        self.clear_button = widgets.Button(description="消す", icon="eraser")
        self.label = widgets.Dropdown(options=[("（正解を選ぶ）", None)] + [(str(k), k) for k in range(10)],
                                      description="正解:", layout=widgets.Layout(width="180px"))
        self.save_button = widgets.Button(description="例として保存", icon="save")
        self.image28 = np.zeros((28, 28), dtype=np.float32)
        self.probabilities: np.ndarray | None = None
        self.canvas.observe(lambda change: self.update(), names="strokes")
        self.choice.observe(lambda change: self.update(), names="value")
        self.clear_button.on_click(lambda button: self.clear())
        self.save_button.on_click(lambda button: self.save())
        self.update()
        note = not_ready_note({function_words("予測", predict): predict,
                               **{f"前処理「{k}」の関数": f for k, f in self.preparations.items()}})
        if note:  # モデルを作るセルを飛ばした、など。描く前に知らせる
            self.message.value = _error(note)

    @property
    def strokes(self) -> Strokes:
        return self.canvas.strokes

    def draw(self, strokes: Strokes) -> None:
        """線をコードから描く（ブラウザで描いたのと同じ扱い）。"""
        self.canvas.strokes = check_strokes(strokes)

    def clear(self) -> None:
        """線を消し、「正解:」の選択も戻す（次の数字を前のラベルで保存しないように）。"""
        self.canvas.strokes = []
        self.label.value = None
        self.message.value = ""

    def _show_nothing(self, message: str = "") -> None:
        self.image28 = np.zeros((28, 28), dtype=np.float32)
        self.probabilities = None
        self.preview.value = _png(self.image28)
        self.bars.value = ""
        self.message.value = message

    def update(self) -> None:
        """いまの線を前処理してモデルに通し、表示を書き換える。"""
        try:
            strokes = check_strokes(self.canvas.strokes)
        except ValueError as error:  # ブラウザから届いた線が壊れている（ノートブックの関数のせいではない）
            self._show_nothing(_error(f"届いた線の形がおかしいので、描けませんでした: {error}"
                                      "「消す」を押して、描き直してください。"))
            return
        if not strokes:
            self._show_nothing()
            self.bars.value = "<i>左の黒い枠に、マウスか指で数字を 1 つ描いてください。</i>"
            return
        name = self.choice.value
        image = render_strokes(strokes)
        prepare = self.preparations[name]
        try:
            image28 = np.asarray(call_with_limit(prepare, (image,)), dtype=np.float32)
        except TimedOut as timeout:
            self._show_nothing(_error(timeout_message(f"前処理「{name}」の関数を呼ぶ", timeout.limit,
                                                      timeout.stopped)))
            return
        except Exception as error:  # ノートブックの関数の誤りは、理由を表示して部品は動かし続ける
            self._show_nothing(_error(f"前処理「{name}」の関数でエラーになりました: {type(error).__name__}: {error}"
                                      + _hint(error)))
            traceback.print_exc()
            return
        if image28.shape != (28, 28):
            self._show_nothing(_error(f"前処理「{name}」の結果の形が {image28.shape} です。(28, 28) を返してください。"))
            return
        if not np.isfinite(image28).all():
            self._show_nothing(_error(f"前処理「{name}」の結果に NaN（数でない値）か無限大が入っています。"
                                      "0 で割っていないかを確かめてください。"))
            return
        self.image28 = image28
        self.preview.value = _png(image28)
        try:
            probabilities = np.asarray(call_with_limit(self.predict, (image28[None, None],)),
                                       dtype=np.float64).reshape(-1)
        except TimedOut as timeout:  # 描くたびに呼ぶ関数なので、終わらなければ止める（演習と同じ上限）
            self.probabilities, self.bars.value = None, ""
            calling = function_words("予測", self.predict, "を呼ぶ")
            self.message.value = _error(timeout_message(calling, timeout.limit, timeout.stopped))
            return
        except Exception as error:
            self.probabilities, self.bars.value = None, ""
            self.message.value = _error(f"予測の関数でエラーになりました: {type(error).__name__}: {error}"
                                        + _hint(error))
            traceback.print_exc()
            return
        problem = (f"予測の関数が返した確率の数が {probabilities.size} 個です。10 個のはずです。"
                   if probabilities.shape != (10,) else probability_problem(probabilities))
        if problem:  # 「850 %」や「nan %」の棒は出さない
            self.probabilities, self.bars.value = None, ""
            self.message.value = _error(problem)
            return
        self.probabilities = probabilities
        self.bars.value = probability_bars(np.clip(probabilities, 0, 1))
        self.message.value = ""

    def save(self) -> bool:
        """描いた線を、選んだ正解のラベルと一緒に保存する。この部品に保存できたら True。

        save_path のファイルに書けなかったとき（理由を表示する）も、例は self.saved に残す。
        """
        try:
            strokes = check_strokes(self.canvas.strokes)
        except ValueError as error:
            self.message.value = _error(f"届いた線の形がおかしいので、保存しません: {error}")
            return False
        if not strokes:
            self.message.value = "✗ まだ何も描かれていません。数字を描いてから保存してください。"
            return False
        if self.label.value is None:
            self.message.value = "✗ 「正解:」で、描いた数字を選んでから保存してください。"
            return False
        example = {"label": int(self.label.value), "strokes": strokes}
        self.saved.append(example)
        if self.save_path is None:
            self.message.value = f"✓ {len(self.saved)} 個目の例として保存しました（pad.saved に入っています）。"
            return True
        problem, count = append_example(self.save_path, example)
        if problem:
            self.message.value = _error(f"{len(self.saved)} 個目の例はこの部品（pad.saved）に保存しましたが、"
                                        f"{problem}")
        else:
            self.message.value = (f"✓ {len(self.saved)} 個目の例として保存しました"
                                  f"（ファイル {self.save_path} に書き足しました。中身は {count} 個）。")
        return True

    def widget(self) -> widgets.Widget:
        buttons = widgets.HBox([self.clear_button, self.label, self.save_button])
        right = widgets.VBox([widgets.HTML("<b>モデルが見る 28×28 の画像</b>"), self.preview,
                              widgets.HTML("<b>クラスごとの確率</b>"), self.bars])
        return widgets.VBox([self.choice, widgets.HBox([self.canvas, right]), buttons, self.message])

    def _ipython_display_(self) -> None:
        display(self.widget())
