"""カメラで撮った写真を受け取る部品（07）。

ブラウザの側は anywidget（JupyterLab の ipywidgets 8 と、Colab の ipywidgets 7.7.1 + anywidget
0.9.21 の両方で動く）で書き、Python の側は ipywidgets で組み立てる。
- CameraCapture: カメラの映像から 1 枚撮り、PIL の画像にして分類の関数に渡す。カメラがない・許可されない
  ときは理由と、代わりのアップロードの方法を日本語で表示する。
- decode_photo: ブラウザが送った写真（data URL）を、open_image と同じ確かめ方で開く。
ノートブックは course_utils.live からも同じ名前で読み込める（07 は live から読む）。
"""

from __future__ import annotations

import base64
import binascii
import html
import traceback
from typing import Callable

import traitlets
from IPython.display import display
from PIL import Image

from course_utils.env import NeedsPackages, optional_import
from course_utils.images import MAX_BYTES, ImageInputError, ImageTooLargeError, open_image
from course_utils.name_errors import not_ready_note, print_hint
from course_utils.time_limit import call_watched, function_words, in_browser_event

__all__ = ["BROKEN_PHOTO", "CAMERA_ERRORS", "CAMERA_PHOTO", "NEEDS", "UPLOAD_INSTEAD", "CameraCapture",
           "CameraView", "camera_error_message", "decode_photo"]

# 入っていない・壊れている（版の食い違いなど）・講座が使う部品が欠けているときは None。
# 部品を作ると理由と直し方を表示する（NeedsPackages）
NEEDS = {"ipywidgets": ("HTML", "Output", "VBox"), "anywidget": ("AnyWidget",)}
widgets = optional_import("ipywidgets", NEEDS["ipywidgets"])
anywidget = optional_import("anywidget", NEEDS["anywidget"])
# CameraView を定義だけはできるように（読み込めないときは使われない）
_AnyWidget = anywidget.AnyWidget if anywidget is not None and widgets is not None else object

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


CAMERA_PHOTO = "カメラから届いた写真"
BROKEN_PHOTO = "カメラから届いた画像が壊れていて開けませんでした。もう一度撮影してください。"


def decode_photo(data_url: str) -> Image.Image:
    """ブラウザが送った data URL（data:image/jpeg;base64,...）を RGB の PIL 画像にする。

    大きすぎるもの（画素数だけを巨大に書いた「解凍爆弾」を含む）は、open_image と同じ確かめ方で断る。
    """
    if not isinstance(data_url, str) or "," not in data_url or not data_url.startswith("data:image/"):
        raise ValueError("カメラから画像のデータが届きませんでした。")
    payload = data_url.split(",", 1)[1]
    if len(payload) * 3 // 4 > MAX_BYTES:  # 取り出す前に大きさを見る
        raise ImageTooLargeError(f"{CAMERA_PHOTO}は {len(payload) * 3 / 4 / 2**20:.0f} MB あり、大きすぎます"
                                 f"（上限 {MAX_BYTES / 2**20:.0f} MB）。カメラの解像度を下げて撮り直してください。")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(BROKEN_PHOTO) from None
    try:
        image, _ = open_image(raw, CAMERA_PHOTO)
    except ImageTooLargeError:
        raise
    except ImageInputError:
        raise ValueError(BROKEN_PHOTO) from None
    return image


def camera_error_message(error: str) -> str:
    """ブラウザのエラー名（NotAllowedError など）を、日本語の説明と代わりの方法にする。"""
    name, _, detail = error.partition(":")
    reason = CAMERA_ERRORS.get(name.strip())
    if reason is None:
        reason = f"カメラを使えませんでした（ブラウザの知らせ: {error.strip()}）。"
    return f"✗ {reason}{UPLOAD_INSTEAD}"


class CameraCapture(NeedsPackages):
    """カメラで 1 枚撮るたびに classify(画像, 名前) を呼ぶ部品。カメラが使えなければ理由と代わりを表示する。"""

    packages = NEEDS

    def __init__(self, classify: Callable[[Image.Image, str], None]) -> None:
        self.classify = classify
        self.received = 0  # 受け取った写真の枚数（名前に使う）
        self.view = CameraView()
        self.output = widgets.Output()
        self.notice = widgets.HTML()  # 分類に時間がかかっているときの知らせ
        self.view.observe(self._on_photo, names="photo")
        self.view.observe(self._on_error, names="error")
        note = not_ready_note({function_words("分類", classify): classify})
        if note:  # 分類に使うモデルを作るセルを飛ばした、など。撮る前に知らせる
            with self.output:
                print(f"⚠ {note}")

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
        try:  # 07 は写真を全部のモデルに見せるので、時間がかかっても止めない（15 秒たったら知らせる）
            call_watched(self.classify, (image, name), function_words("分類", self.classify),
                         self._notify)
        except Exception as error:
            print("✗ 分類の関数でエラーになりました。関数の中身を確かめてください。")
            traceback.print_exc()
            print_hint(error)
            return False
        return True

    def _notify(self, text: str) -> None:
        """時間のかかっている知らせを、部品の知らせの欄に書く（別のスレッドからも呼ばれる）。"""
        self.notice.value = f"<span style='color:#a60'>⏳ {html.escape(text)}</span>" if text else ""

    def _on_photo(self, change) -> None:
        """ブラウザで「撮影」が押された: 結果は部品の下の欄に出す。"""
        data_url = change["new"]
        if not data_url:
            return
        # 写真を部品の状態に残さない（残るとノートブックのファイルに保存される）。分類の前に消すので、
        # 分類の関数が失敗しても、途中で止めても残らない
        self.view.photo = ""
        with self.output:
            self.output.clear_output(wait=True)
            in_browser_event(self.take, data_url)

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
        display(widgets.VBox([note, self.view, self.notice, self.output]))
