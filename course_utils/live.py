"""その場の入力を受け取る部品: マウスや指で描いた数字（04・06）と、カメラで撮った写真（07）。

ブラウザの側は anywidget（JupyterLab の ipywidgets 8 と、Colab の ipywidgets 7.7.1 + anywidget
0.9.21 の両方で動く）で書き、Python の側は ipywidgets で組み立てる。
- DigitPad: 描いた線 → 280×280 の画像 → ノートブックの前処理 → 28×28 → ノートブックの予測関数 → 確率の棒。
  前処理と予測はノートブックが書き、この部品は線の受け渡しと表示だけをする。
- CameraCapture: カメラの映像から 1 枚撮り、PIL の画像にして分類の関数に渡す。カメラがない・許可されない
  ときは理由と、代わりのアップロードの方法を日本語で表示する。
- load_drawn_digits: 講座に同梱した、描いた数字の線（scripts/make_drawn_digits.py で作成）。
- prepare_raw / prepare_like_mnist: 04 のノートブックで書いた 2 つの前処理と同じもの（06 で使う。
  同じ結果になることを tests/test_live.py が確かめる）。
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import traceback
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import traitlets
from IPython.display import display
from PIL import Image, ImageDraw

from course_utils.env import NeedsPackages

try:
    import anywidget
    import ipywidgets as widgets
    _AnyWidget = anywidget.AnyWidget
except ImportError:  # ないときは、部品を作ると入れ方を表示する（NeedsPackages）
    widgets = None
    _AnyWidget = object  # 下の 2 つのクラスを定義だけはできるように（使われることはない）

CANVAS_SIZE = 280  # 描く枠の 1 辺の画素数（28 × 10）
LINE_WIDTH = 18  # 線の太さ（28×28 に縮めると 2 画素ほど。MNIST の線の太さに近い）
DRAWN_DIGITS_FILE = "drawn_digits.json"
# MNIST の数字の重心の位置（行も列も、0 から数えた画素の番号）。28 画素の真ん中の 13.5 ではない。
# 訓練画像の重心の平均は (14.0, 14.0) で、そこからのずれは整数の画素数でずらした丸めの分だけ（04 で測る）
MNIST_CENTRE = 14.0

Strokes = list  # [[[x, y], [x, y], ...], ...]: 線（ペンを下ろしてから上げるまで）ごとの点の列


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
        pointer = event.pointerId;
        canvas.setPointerCapture(event.pointerId);
        current = [point(event)];
        strokes.push(current);
        redraw();
      });
      canvas.addEventListener("pointermove", (event) => {
        if (!current || event.pointerId !== pointer) return;
        current.push(point(event));
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
      model.on("change:strokes", () => {
        strokes = model.get("strokes").map((stroke) => stroke.map((p) => [p[0], p[1]]));
        redraw();
      });
      strokes = model.get("strokes").map((stroke) => stroke.map((p) => [p[0], p[1]]));
      redraw();
      el.appendChild(canvas);
    }
    export default { render };
    """
    strokes = traitlets.List([]).tag(sync=True)
    size = traitlets.Int(CANVAS_SIZE).tag(sync=True)
    line_width = traitlets.Int(LINE_WIDTH).tag(sync=True)


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


def check_strokes(strokes) -> Strokes:
    """strokes が [[[x, y], ...], ...] の形か確かめて、数の並びにして返す（違えば日本語の ValueError）。"""
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"線は [[[x, y], ...], ...] の形のリストで渡してください（渡されたもの: "
                         f"{type(strokes).__name__}）。")
    result = []
    for k, stroke in enumerate(strokes):
        try:
            points = [[float(x), float(y)] for x, y in stroke]
        except (TypeError, ValueError):
            raise ValueError(f"{k + 1} 本目の線が [x, y] の点の並びではありません。") from None
        if points:
            result.append(points)
    return result


def load_drawn_digits(path: str | Path | None = None) -> list[tuple[Strokes, int]]:
    """描いた数字の線とラベルの組のリスト。

    path を省くと講座に同梱したもの（作り方は scripts/make_drawn_digits.py）、渡すと DigitPad の
    「例として保存」で書いたファイルを読む。
    """
    if path is None:
        with resources.files("course_utils").joinpath(DRAWN_DIGITS_FILE).open("r", encoding="utf-8") as f:
            data = json.load(f)
    else:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} が見つかりません。DigitPad の「例として保存」で作ったファイルの"
                                    "名前を確かめてください。") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{path} は描いた数字のファイル（JSON）として読めません。") from None
    try:
        return [(check_strokes(item["strokes"]), int(item["label"])) for item in data["digits"]]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path or DRAWN_DIGITS_FILE} の中身が、描いた数字のファイルの形"
                         "（{\"digits\": [{\"label\": 数, \"strokes\": [...]}, ...]}）ではありません。") from None


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


class DigitPad(NeedsPackages):
    """数字を描くと、前処理した 28×28 の画像と、モデルのクラス確率を表示する部品。

    predict(images) は (N, 1, 28, 28)（0〜1、背景 0）の float32 の配列を受け取り、(N, 10) の確率を返す。
    preparations は {表示名: 関数}。関数は (280, 280) の画像（0〜1）を (28, 28) にする。
    「例として保存」は、描いた線と正解のラベルを self.saved に加え、save_path があればそこにも書く。
    """

    packages = ("ipywidgets", "anywidget")

    def __init__(self, predict: Callable, preparations: dict[str, Callable],
                 save_path: str | Path | None = "my_drawn_digits.json") -> None:
        if not preparations:
            raise ValueError("前処理の関数を 1 つ以上、{表示名: 関数} の形で渡してください。")
        self.predict = predict
        self.preparations = dict(preparations)
        self.save_path = Path(save_path) if save_path else None
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

    @property
    def strokes(self) -> Strokes:
        return self.canvas.strokes

    def draw(self, strokes: Strokes) -> None:
        """線をコードから描く（ブラウザで描いたのと同じ扱い）。"""
        self.canvas.strokes = check_strokes(strokes)

    def clear(self) -> None:
        self.canvas.strokes = []
        self.message.value = ""

    def update(self) -> None:
        """いまの線を前処理してモデルに通し、表示を書き換える。"""
        strokes = self.canvas.strokes
        if not strokes:
            self.image28 = np.zeros((28, 28), dtype=np.float32)
            self.probabilities = None
            self.preview.value = _png(self.image28)
            self.bars.value = "<i>左の黒い枠に、マウスか指で数字を 1 つ描いてください。</i>"
            return
        name = self.choice.value
        try:
            image28 = np.asarray(self.preparations[name](render_strokes(strokes)), dtype=np.float32)
            if image28.shape != (28, 28):
                raise ValueError(f"前処理「{name}」の結果の形が {image28.shape} です。(28, 28) を返してください。")
            probabilities = np.asarray(self.predict(image28[None, None]), dtype=np.float64).reshape(-1)
            if probabilities.shape != (10,):
                raise ValueError(f"予測の関数が返した確率の数が {probabilities.size} 個です。10 個のはずです。")
        except Exception as error:  # ノートブックの関数の誤りは、理由を表示して部品は動かし続ける
            self.bars.value = ""
            self.message.value = (f"<span style='color:#b00'>✗ 前処理「{name}」か予測の関数でエラーになりました: "
                                  f"{type(error).__name__}: {error}</span>")
            traceback.print_exc()
            return
        self.image28, self.probabilities = image28, probabilities
        self.preview.value = _png(image28)
        self.bars.value = probability_bars(probabilities)
        self.message.value = ""

    def save(self) -> bool:
        """描いた線を、選んだ正解のラベルと一緒に保存する。保存できたら True。"""
        if not self.canvas.strokes:
            self.message.value = "✗ まだ何も描かれていません。数字を描いてから保存してください。"
            return False
        if self.label.value is None:
            self.message.value = "✗ 「正解:」で、描いた数字を選んでから保存してください。"
            return False
        example = {"label": int(self.label.value), "strokes": self.canvas.strokes}
        self.saved.append(example)
        where = ""
        if self.save_path is not None:
            where = self._append_to_file(example)
        self.message.value = f"✓ {len(self.saved)} 個目の例として保存しました{where}。"
        return True

    def _append_to_file(self, example: dict) -> str:
        """save_path のファイルに例を 1 つ追記する（前に保存した例は残す）。結果を説明する文を返す。"""
        try:
            digits = []
            if self.save_path.exists():
                digits = json.loads(self.save_path.read_text(encoding="utf-8")).get("digits", [])
            digits.append(example)
            self.save_path.write_text(json.dumps({"digits": digits}, ensure_ascii=False), encoding="utf-8")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return f"（ファイル {self.save_path} は描いた数字のファイルとして読めないので、書き足していません）"
        except OSError as error:
            return f"（ファイル {self.save_path} には書けませんでした: {error.strerror or error}）"
        return f"（ファイル {self.save_path} に書き足しました。中身は {len(digits)} 個）"

    def widget(self) -> widgets.Widget:
        buttons = widgets.HBox([self.clear_button, self.label, self.save_button])
        right = widgets.VBox([widgets.HTML("<b>モデルが見る 28×28 の画像</b>"), self.preview,
                              widgets.HTML("<b>クラスごとの確率</b>"), self.bars])
        return widgets.VBox([self.choice, widgets.HBox([self.canvas, right]), buttons, self.message])

    def _ipython_display_(self) -> None:
        display(self.widget())


# --- カメラ ----------------------------------------------------------------------------------

CAMERA_ERRORS = {
    "NotAllowedError": "カメラの使用が許可されませんでした（ブラウザの確認で「許可しない」を選んだか、"
                       "ブラウザやパソコンの設定、またはページの埋め込みの設定でカメラが禁止されています）。",
    "NotFoundError": "カメラが見つかりませんでした（この端末にカメラがないか、接続されていません）。",
    "NotReadableError": "カメラを開けませんでした（ほかのアプリがカメラを使っている可能性があります）。",
    "OverconstrainedError": "この端末のカメラでは、求めた条件の映像を撮れませんでした。",
    "SecurityError": "このページ（またはこのページを埋め込んでいるページ）では、カメラの使用が禁止されています。",
    "insecure": "このページではカメラを使えません（安全な接続 https か localhost のページだけで使えます）。",
    "unsupported": "このブラウザ（またはこの画面）はカメラの映像を取り出す機能に対応していません。",
}
UPLOAD_INSTEAD = "代わりに、上の「写真を選ぶ」から、撮っておいた写真をアップロードしてください。"


class CameraView(_AnyWidget):
    """「カメラを起動」→ 映像 →「撮影」で 1 枚を JPEG の data URL として photo に送る部品。"""

    _esm = """
    function render({ model, el }) {
      const box = document.createElement("div");
      box.className = "course-camera";
      const start = document.createElement("button");
      start.textContent = "カメラを起動";
      const shoot = document.createElement("button");
      shoot.textContent = "撮影";
      shoot.disabled = true;
      const stop = document.createElement("button");
      stop.textContent = "カメラを止める";
      stop.disabled = true;
      for (const b of [start, shoot, stop]) b.style.cssText = "margin:4px;padding:4px 12px;font-size:14px";
      const video = document.createElement("video");
      video.autoplay = true;
      video.muted = true;
      video.playsInline = true;
      video.style.cssText = "display:none;max-width:320px;background:#222;margin-top:4px";
      let stream = null;
      function release() {
        if (stream) stream.getTracks().forEach((track) => track.stop());
        stream = null;
      }
      function report(name, message) {
        model.set("error", name + ": " + (message || ""));
        model.save_changes();
      }
      start.addEventListener("click", async () => {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
          report(window.isSecureContext === false ? "insecure" : "unsupported", "");
          return;
        }
        start.disabled = true;
        release();
        try {
          stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
          video.srcObject = stream;
          video.style.display = "block";
          await video.play();
          shoot.disabled = false;
          stop.disabled = false;
          model.set("status", "running");
          model.save_changes();
        } catch (error) {
          release();
          video.style.display = "none";
          start.disabled = false;
          report(error.name || "Error", error.message);
        }
      });
      shoot.addEventListener("click", () => {
        if (!stream || !video.videoWidth) return;
        const canvas = document.createElement("canvas");
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        canvas.getContext("2d").drawImage(video, 0, 0);
        model.set("photo", canvas.toDataURL("image/jpeg", 0.9));
        model.set("shots", model.get("shots") + 1);
        model.save_changes();
      });
      stop.addEventListener("click", () => {
        release();
        video.srcObject = null;
        start.disabled = false;
        video.style.display = "none";
        shoot.disabled = true;
        stop.disabled = true;
        model.set("status", "stopped");
        model.save_changes();
      });
      box.append(start, shoot, stop, video);
      el.appendChild(box);
      return release;  // 部品が消えたらカメラを止める
    }
    export default { render };
    """
    photo = traitlets.Unicode("").tag(sync=True)
    shots = traitlets.Int(0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)


def decode_photo(data_url: str) -> Image.Image:
    """ブラウザが送った data URL（data:image/jpeg;base64,...）を RGB の PIL 画像にする。"""
    if not isinstance(data_url, str) or "," not in data_url or not data_url.startswith("data:image/"):
        raise ValueError("カメラから画像のデータが届きませんでした。")
    try:
        raw = base64.b64decode(data_url.split(",", 1)[1], validate=True)
        image = Image.open(io.BytesIO(raw))
        image.load()
    except (binascii.Error, OSError, ValueError):
        raise ValueError("カメラから届いた画像が壊れていて開けませんでした。もう一度撮影してください。") from None
    return image.convert("RGB")


def camera_error_message(error: str) -> str:
    """ブラウザのエラー名（NotAllowedError など）を、日本語の説明と代わりの方法にする。"""
    name, _, detail = error.partition(":")
    reason = CAMERA_ERRORS.get(name.strip())
    if reason is None:
        reason = f"カメラを使えませんでした（ブラウザの知らせ: {error.strip()}）。"
    return f"✗ {reason}{UPLOAD_INSTEAD}"


class CameraCapture(NeedsPackages):
    """カメラで 1 枚撮るたびに classify(画像, 名前) を呼ぶ部品。カメラが使えなければ理由と代わりを表示する。"""

    packages = ("ipywidgets", "anywidget")

    def __init__(self, classify: Callable[[Image.Image, str], None]) -> None:
        self.classify = classify
        self.received = 0  # 受け取った写真の枚数（名前に使う）
        self.view = CameraView()
        self.output = widgets.Output()
        self.view.observe(self._on_photo, names="photo")
        self.view.observe(self._on_error, names="error")

    def take(self, data_url: str) -> bool:
        """撮った 1 枚（data URL）を分類の関数に渡し、結果をその場（呼んだセルの下）に出す。渡せたら True。"""
        try:
            image = decode_photo(data_url)
        except ValueError as error:
            print(f"✗ {error}")
            return False
        self.received += 1
        name = f"カメラの写真 {self.received} 枚目（{image.width}×{image.height}）"
        print(f"受け取った画像: {name}")
        try:
            self.classify(image, name)
        except Exception:
            print("✗ 分類の関数でエラーになりました。関数の中身を確かめてください。")
            traceback.print_exc()
            return False
        return True

    def _on_photo(self, change) -> None:
        """ブラウザで「撮影」が押された: 結果は部品の下の欄に出す。"""
        if change["new"]:
            with self.output:
                self.output.clear_output(wait=True)
                self.take(change["new"])
            self.view.photo = ""  # 写真を部品の状態に残さない（ノートブックのファイルに入らないように）

    def _on_error(self, change) -> None:
        if change["new"]:
            with self.output:
                self.output.clear_output(wait=True)
                print(camera_error_message(change["new"]))
            self.view.error = ""  # 同じエラーがもう一度起きても表示できるように

    def _ipython_display_(self) -> None:
        note = widgets.HTML("「カメラを起動」を押すと、ブラウザがカメラの使用の許可を求めます。映像が出たら"
                            "「撮影」を押してください。カメラがない・許可しないときは、理由と代わりの方法が"
                            "下に出ます。")
        display(widgets.VBox([note, self.view, self.output]))
