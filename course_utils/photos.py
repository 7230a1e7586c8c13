"""学習者の写真を受け取る部品（ipywidgets 7.7 と 8 の両方で動く。07・08 で使う）。

- PhotoUploader: 学習者の写真を受け取り、確かめてから分類の関数に渡す（07）。
- 写真の受け取りで共通の部分（アップロードの読み方、エラーの見せ方）。08 の OwnClassesTrainer
  （course_utils.own_classes）もこれを使う。
部品は、ノートブックのセルの最後に置くと表示される。写真は open_image（course_utils.images）で開く。
"""

from __future__ import annotations

import html
import traceback
from typing import Callable

from IPython.display import display
from PIL import Image

from course_utils.env import NeedsPackages, optional_import
from course_utils.images import ImageInputError, open_image, source_name
from course_utils.name_errors import not_ready_note, print_hint
from course_utils.time_limit import call_watched, function_words, in_browser_event

# 入っていない・壊れている（版の食い違いなど）・講座が使う部品が欠けているときは None。
# 部品を作ると理由と直し方を表示する（NeedsPackages）
NEEDS = {"ipywidgets": ("Button", "FileUpload", "HBox", "HTML", "Label", "Layout", "Output", "Text",
                        "VBox")}
widgets = optional_import("ipywidgets", NEEDS["ipywidgets"])

COLAB_BIG_FILES = "（Colab では 1 MB 前後より大きいファイルで起きます）"


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """FileUpload の value を [(ファイル名, 中身), ...] にする（ipywidgets 7 は辞書、8 はタプル）。

    中身が空（0 バイト）のファイルも落とさずに返す（「空のファイルです」と伝えるため）。
    """
    if not value:
        return []
    if isinstance(value, dict):  # 7.x: {名前: {"metadata": {...}, "content": bytes}}
        return [(name, bytes(item.get("content") or b"")) for name, item in value.items()]
    return [(item.get("name") or "アップロードしたファイル", bytes(item.get("content") or b""))
            for item in value]  # 8.x


def _report_lost_upload(change, upload, output, where: str, button: str) -> None:
    """ipywidgets 7: 写真を選んだのに中身が届かなかったら、理由と代わりの方法を output に表示する。"""
    if change["new"] and not uploaded_files(upload.value):
        with output:
            output.clear_output(wait=True)
            print(f"✗ ファイルを選びましたが、中身が届きませんでした{COLAB_BIG_FILES}。左の「ファイル」欄"
                  f"（フォルダのアイコン）にアップロードし、{where}ファイル名を入れて「{button}」を押してください。")


def _notice_html(text: str) -> str:
    """時間のかかっている知らせの HTML（空の文なら空）。"""
    return f"<span style='color:#a60'>⏳ {html.escape(text)}</span>" if text else ""


def _open_photo(source, name: str) -> Image.Image | None:
    """写真 1 枚を open_image で開き、直した点を表示して返す。開けなければ理由を表示して None を返す。"""
    try:
        image, notes = open_image(source, name)
    except ImageInputError as error:
        print(f"✗ {error}")
        return None
    for note in notes:
        print(f"・{note}")
    return image


class PhotoUploader(NeedsPackages):
    """写真を選ぶ（またはファイル名を入れる）と、open_image で開いて classify(画像, 名前) を呼ぶ部品。

    Colab の FileUpload は大きなファイル（1 MB 前後から）が届かないことがあるので、
    左の「ファイル」欄にアップロードしてファイル名を入れる方法も用意する。
    """

    packages = NEEDS

    def __init__(self, classify: Callable[[Image.Image, str], None]) -> None:
        self.classify = classify
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="写真を選ぶ")
        self.path = widgets.Text(placeholder="例: my_photo.jpg または /content/my_photo.jpg",
                                 description="ファイル名")
        self.button = widgets.Button(description="このファイルで試す")
        self.output = widgets.Output()
        self.notice = widgets.HTML()  # 分類に時間がかかっているときの知らせ
        self.upload.observe(self._on_upload, names="value")
        if "_counter" in self.upload.trait_names():  # 7.x: 選んだのに中身が届かない場合を知らせる
            self.upload.observe(self._on_counter, names="_counter")
        self.button.on_click(lambda button: self._from_browser(self.path.value))
        self.widget = widgets.VBox([
            self.upload, widgets.HBox([self.path, self.button]), self.notice, self.output])
        _note_if_not_ready(self.output, {function_words("分類", classify): classify})

    def run(self, source: bytes | str, name: str = "") -> None:
        """ファイルの中身（bytes）かファイル名の画像を開いて classify に渡す。使えなければ理由を表示する。

        中身が空（0 バイト）のアップロードは open_image が「空のファイル」と伝える。
        ファイル名の欄が空のときだけ、ファイル名を入れるように頼む。
        """
        with self.output:
            self.output.clear_output(wait=True)
            self._run(source, name)

    def _run(self, source: bytes | str, name: str) -> bool:
        if isinstance(source, str):
            source = source.strip()
            name = name or source_name(source)
        else:
            name = name or "アップロードしたファイル"
        if isinstance(source, str) and not source:
            print("ファイル名を入力してください。")
            return False
        image = _open_photo(source, name)
        if image is None:
            return False
        try:  # 07 は写真を全部のモデルに見せるので、時間がかかっても止めない（15 秒たったら知らせる）
            call_watched(self.classify, (image, name), function_words("分類", self.classify),
                         lambda text: setattr(self.notice, "value", _notice_html(text)))
        except Exception as error:
            _show_exception("分類", self.classify, error)
            return False
        return True

    def _from_browser(self, source: bytes | str, name: str = "") -> None:
        """ブラウザの操作（選ぶ・押す）から: 思わぬエラーも部品の出力欄に日本語で出す。"""
        with self.output:
            self.output.clear_output(wait=True)
            in_browser_event(self._run, source, name)

    def _on_upload(self, change) -> None:
        files = uploaded_files(change["new"])
        if files:
            self._from_browser(files[-1][1], files[-1][0])

    def _on_counter(self, change) -> None:
        _report_lost_upload(change, self.upload, self.output, "上の欄に", self.button.description)

    def _ipython_display_(self) -> None:
        display(self.widget)



def _note_if_not_ready(output, functions: dict[str, Callable]) -> None:
    """渡された関数がまだ定義されていない名前を使っていれば、部品の出力欄に知らせる。"""
    note = not_ready_note(functions)
    if note:
        with output:
            print(f"⚠ {note}")


def _show_exception(what: str, function: Callable, error: Exception) -> None:
    """呼んだ関数のエラーを隠さずに、種類・メッセージ・トレースバックを表示する。"""
    name = getattr(function, "__name__", type(function).__name__)
    print(f"✗ {what}の関数 {name} の中でエラーが起きました: {type(error).__name__}: {error}")
    tb = error.__traceback__.tb_next if error.__traceback__ else None  # この部品の行は省く
    print("".join(traceback.format_exception(type(error), error, tb)), end="")
    print_hint(error)
