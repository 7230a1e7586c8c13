"""写真ファイルを開いて RGB の PIL 画像にする（06 の学習者の写真用）。

画像でないファイル、壊れたファイル、大きすぎる画像は ImageInputError（日本語のメッセージ）にし、
透明部分のある画像・グレースケール・CMYK などは RGB に変換して、何をしたかを伝える。
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 30 * 2**20  # 30 MiB を超えるファイルは受け付けない
MAX_PIXELS = 60_000_000  # 6,000 万画素（約 7,700 × 7,700）を超える画像は受け付けない
MAX_SIDE = 1024  # 長い辺がこれを超えたら縮小する（モデルの入力は 224〜448 画素）


class ImageInputError(ValueError):
    """写真として使えないファイルを渡されたときのエラー（日本語）。"""


def _check_size(name: str, size: int) -> None:
    if size > MAX_BYTES:
        raise ImageInputError(f"{name} は {size / 2**20:.0f} MB あり、大きすぎます"
                              f"（上限 {MAX_BYTES / 2**20:.0f} MB）。縮小してから使ってください。")


def _read(source: str | Path | bytes, name: str) -> bytes:
    """中身を返す。大きすぎるファイルは読む前に断る。"""
    if isinstance(source, (bytes, bytearray, memoryview)):
        _check_size(name, len(source))
        return bytes(source)
    path = Path(source).expanduser()
    if not path.is_file():
        raise ImageInputError(f"ファイル {path} が見つかりません。名前と場所（フォルダ）を確かめてください。")
    _check_size(name, path.stat().st_size)
    return path.read_bytes()


def open_image(source: str | Path | bytes, name: str = "") -> tuple[Image.Image, list[str]]:
    """ファイルのパスまたは中身（bytes）から RGB 画像を作り、(画像, 変換の説明のリスト) を返す。"""
    name = name or (Path(source).name if isinstance(source, (str, Path)) else "ファイル")
    data = _read(source, name)
    if not data:
        raise ImageInputError(f"{name} は空のファイルです。アップロードが途中で止まった可能性があります。")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageInputError(
            f"{name} は画像として読めません。JPEG・PNG・WebP・GIF・BMP などの画像を選んでください"
            "（iPhone の HEIC は、JPEG で書き出すか「互換性優先」の設定で撮ってください）。") from None
    except Image.DecompressionBombError:
        raise ImageInputError(f"{name} は画素数が多すぎて開けません。縮小してから使ってください。") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageInputError(f"{name} は画像ファイルが壊れているか途中で切れていて、読み込めません"
                              f"（{error}）。") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageInputError(f"{name} は {width}×{height} 画素で大きすぎます"
                              f"（上限 {MAX_PIXELS / 1e6:.0f} 百万画素）。縮小してから使ってください。")
    notes = []
    if getattr(image, "n_frames", 1) > 1:
        notes.append(f"{name} は複数のフレームを持つ画像なので、最初のフレームを使います。")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageInputError(f"{name} は画像ファイルが壊れているか途中で切れていて、読み込めません"
                              f"（{error}）。") from None
    rotated = ImageOps.exif_transpose(image)  # スマートフォンの写真の縦横を、撮ったときの向きに直す
    if rotated is not None and rotated.size != image.size:
        notes.append("写真の向きの情報（EXIF）に合わせて回転しました。")
    image = rotated if rotated is not None else image
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba).convert("RGB")
        notes.append("透明な部分を白で塗って RGB（3 チャンネル）にしました。")
    elif image.mode in ("L", "1") or image.mode.startswith(("I", "F")):
        if image.mode not in ("L", "1"):  # 16 ビットなど: 最大値が 255 になるように縮める
            values = np.asarray(image, dtype=np.float64)
            image = Image.fromarray((values * 255 / max(values.max(), 1)).astype(np.uint8))
        image = image.convert("RGB")
        notes.append("白黒（グレースケール）の画像なので、同じ値を 3 チャンネルに並べて RGB にしました。")
    elif image.mode != "RGB":
        notes.append(f"色の形式 {image.mode} を RGB に変換しました。")
        image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        before = image.size
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        notes.append(f"{before[0]}×{before[1]} 画素の画像を {image.size[0]}×{image.size[1]} 画素に"
                     "縮小しました（モデルの入力は高々 448 画素なので、結果はほぼ変わりません）。")
    return image, notes
