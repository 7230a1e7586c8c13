"""写真ファイルを開いて RGB の PIL 画像にする（07 の学習者の写真用）。

受け取るもの: ファイルのパス（文字列か Path）、ファイルの中身（bytes）、ブラウザからコピーした
`data:image/...;base64,...` の文字列（画像の中身そのものなので、ダウンロードせずに取り出せる）。

使えないもの（見つからない・フォルダ・読む権限がない・名前が長すぎる・URL・画像でない・
壊れている・途中で切れている・大きすぎる）は ImageInputError（日本語のメッセージ）にする。
透明部分のある画像・グレースケール（16 ビットも）・CMYK などは RGB に変換して、何をしたかを伝える。
Pillow の英語の警告（DecompressionBombWarning、Corrupt EXIF data など）は画面に出さず、
日本語の説明にして返す。学習者のファイルは読むだけで、変更も削除もしない。
"""

from __future__ import annotations

import base64
import binascii
import errno
import io
import os
import re
import stat
import warnings
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlparse
from urllib.request import url2pathname

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 30 * 2**20  # 30 MiB を超えるファイルは受け付けない
MAX_PIXELS = 60_000_000  # 6,000 万画素（約 7,700 × 7,700）を超える画像は受け付けない
MAX_SIDE = 1024  # 長い辺がこれを超えたら縮小する（モデルの入力は 224〜448 画素）
MAX_NAME_SHOWN = 60  # メッセージに出すファイル名の長さ（これより長い名前は途中を「…」にする）

DATA_URL_NAME = "貼り付けた画像（data: URL）"
SAVE_AND_UPLOAD = ("ブラウザで画像を右クリック（スマートフォンなら長押し）して「名前を付けて画像を保存」"
                   "で保存し、「写真を選ぶ」ボタンでアップロードしてください（Colab では左の「ファイル」欄"
                   "（フォルダのアイコン）にアップロードして、そのファイル名を入れることもできます）。")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".avif"}
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
MODE_NAMES = {"P": "パレット（256 色まで）", "CMYK": "印刷用の CMYK", "YCbCr": "YCbCr",
              "LAB": "Lab", "HSV": "HSV", "RGBX": "RGBX（4 つ目のチャンネルは使わない）"}


class ImageInputError(ValueError):
    """写真として使えないファイルを渡されたときのエラー（日本語）。"""


class ImageTooLargeError(ImageInputError):
    """ファイルか画素数が大きすぎる（解凍爆弾を含む）ときのエラー（日本語）。"""


def _gap(name: str) -> str:
    """名前と助詞の間の空白: 「cat.png は」のように英数字で終わる名前のときだけ空ける（「カメラの写真は」）。"""
    return " " if name[-1:].isascii() else ""


def _short(text: str, limit: int = MAX_NAME_SHOWN) -> str:
    """長い名前（貼り付けた画像の中身など）は、頭と終わりだけを見せる。"""
    return text if len(text) <= limit else f"{text[:limit - 20]}…{text[-15:]}（{len(text)} 文字）"


def _text_of(source) -> str:
    raw = os.fspath(source)
    return os.fsdecode(raw) if isinstance(raw, bytes) else raw


def _clean(text: str) -> str:
    """前後の空白と、Windows の「パスのコピー」が付ける引用符を外す。"""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def _is_url(text: str) -> bool:
    lower = text.lower()
    # Path("https://x") は "https:/x" になるので、斜線 1 本でも URL とみなす
    return bool(re.match(r"^(https?|ftp|ftps|blob):", lower)) or lower.startswith("www.")


def source_name(source) -> str:
    """メッセージや図の題に使う、source の短い名前。"""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "渡されたデータ"
    if not isinstance(source, (str, os.PathLike)):
        return type(source).__name__
    text = _clean(_text_of(source))
    if text.lower().startswith("data:"):
        return DATA_URL_NAME
    if _is_url(text):
        return _short(text)
    return _short(Path(text).name or text)


def _check_size(name: str, size: int) -> None:
    if size > MAX_BYTES:
        raise ImageTooLargeError(f"{name}{_gap(name)}は {size / 2**20:.0f} MB あり、大きすぎます"
                              f"（上限 {MAX_BYTES / 2**20:.0f} MB）。縮小してから使ってください。")


def _decode_data_url(text: str, notes: list[str]) -> bytes:
    """`data:image/png;base64,...` から画像の中身を取り出す（ネットワークもファイルも使わない）。"""
    header, comma, payload = text.partition(",")
    if not comma:
        raise ImageInputError("貼り付けられた data: URL が途中で切れていて、画像の中身がありません。"
                              + SAVE_AND_UPLOAD)
    parts = [part.strip().lower() for part in header[len("data:"):].split(";")]
    mediatype = parts[0] or "text/plain"
    if not mediatype.startswith("image/"):
        raise ImageInputError(f"貼り付けられた data: URL の中身は画像ではありません（種類: {_short(mediatype, 30)}）。"
                              + SAVE_AND_UPLOAD)
    if "base64" in parts[1:]:
        compact = re.sub(r"\s+", "", unquote(payload))  # 貼り付けで改行が入ることがある
        _check_size(DATA_URL_NAME, len(compact) * 3 // 4)  # 取り出す前に大きさを見る
        try:
            data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ImageInputError("貼り付けられた data: URL の中身が途中で切れているか壊れていて、"
                                  "画像を取り出せません。" + SAVE_AND_UPLOAD) from None
    else:
        data = unquote_to_bytes(payload)
        _check_size(DATA_URL_NAME, len(data))
    notes.append("貼り付けられた data: URL（画像の中身を文字で表したもの）から画像を取り出しました"
                 "（ダウンロードはしていません）。")
    return data


def _expand_home(text: str) -> tuple[Path, str]:
    """先頭の ~ をホームフォルダにする。できなければそのままの名前と、その理由を返す。"""
    path = Path(text)
    if not text.startswith("~"):
        return path, ""
    try:
        return path.expanduser(), ""
    except (RuntimeError, KeyError):
        user = text[1:].split("/")[0]
        if user:
            why = (f"先頭の「~」は「~/my_photo.jpg」のようにホームフォルダを表す記号ですが、"
                   f"「~{_short(user, 30)}」はユーザー {_short(user, 30)} のホームフォルダと読まれ、"
                   "そのユーザーはいません。「~」を付けずに、ファイルの場所をそのまま書いてください。")
        else:
            why = ("先頭の「~」はホームフォルダを表す記号ですが、この環境ではホームフォルダが分かりません"
                   "（環境変数 HOME がありません）。「~」を使わずに、/ から始まる場所で書いてください。")
        return path, why


def _neighbours(path: Path) -> list[str]:
    """path と大文字・小文字や拡張子だけが違うファイルを探す（あれば「もしかして」に使う）。"""
    try:
        parent = path.parent
        stem, name = path.stem.lower(), path.name.lower()
        found = []
        for index, entry in enumerate(os.scandir(parent)):
            if index > 2000:
                break
            lower = entry.name.lower()
            if lower == name or (Path(lower).stem == stem and Path(lower).suffix in IMAGE_SUFFIXES):
                found.append(entry.name)
        return sorted(found)[:3]
    except (OSError, ValueError):
        return []


def _not_found(text: str, path: Path, why: str) -> ImageInputError:
    message = f"ファイル {_short(text)} が見つかりません。名前と場所（フォルダ）を確かめてください。"
    if why:
        return ImageInputError(message + why)
    if re.match(r"^[A-Za-z]:[\\/]", text) or "\\" in text:
        return ImageInputError(
            message + "「C:\\」や「\\」を含む名前は Windows のパソコンの中の場所です。Colab やサーバーで動く"
            "ノートブックからはパソコンのファイルは見えないので、「写真を選ぶ」ボタンでアップロードしてください。")
    similar = _neighbours(path)
    if similar:
        message += f"同じフォルダに {'、'.join(similar)} があります（大文字・小文字や拡張子の違いに注意）。"
    elif not path.is_absolute():
        try:
            message += f"（今のフォルダ {os.getcwd()} から見た場所として探しました）"
        except OSError:
            pass
    return ImageInputError(message)


def _os_error(text: str, error: OSError, doing: str) -> ImageInputError:
    code = errno.errorcode.get(error.errno or 0, "")
    return ImageInputError(f"ファイル {_short(text)} を{doing}ときに、OS のエラー"
                           f"{f'（{code}）' if code else ''}が起きて読めませんでした。"
                           "別の場所にコピーするか、アップロードし直してください。")


def _read_path(source, notes: list[str], name: str) -> bytes:
    """パス（または data: URL）の中身を返す。使えないものは日本語の ImageInputError にする。"""
    text = _text_of(source)
    text = _clean(text) if isinstance(source, str) else text
    if not text:
        raise ImageInputError("ファイル名が空です。写真のファイル名（例: my_photo.jpg）を入れてください。")
    if "\x00" in text:
        raise ImageInputError("ファイル名に使えない文字（NUL）が入っています。ファイル名を入れ直してください。")
    if text.lower().startswith("data:"):
        return _decode_data_url(text, notes)
    if text.lower().startswith("file:"):
        text = url2pathname(unquote(urlparse(text).path))
    elif _is_url(text):
        raise ImageInputError(
            f"{_short(text)} はインターネットの URL です。この教材は URL から画像をダウンロードしません。"
            + SAVE_AND_UPLOAD)
    path, why = _expand_home(text)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise _not_found(text, path, why) from None
    except PermissionError:
        raise ImageInputError(f"ファイル {_short(text)} のあるフォルダを見る権限がないので、開けません。"
                              "権限を確かめるか、写真を読めるフォルダにコピーしてから使ってください。") from None
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            raise ImageInputError(
                f"ファイル名が長すぎます（{len(text)} 文字）。写真の中身や URL を貼り付けていませんか。"
                "ファイル名だけ（例: my_photo.jpg）を入れてください。写真がブラウザの中にあるなら、"
                + SAVE_AND_UPLOAD) from None
        if error.errno == errno.ELOOP:
            raise ImageInputError(f"{_short(text)} はリンク（ショートカット）が輪になっていて、"
                                  "たどり着くファイルがありません。") from None
        raise _os_error(text, error, "調べる") from None
    except ValueError:
        raise ImageInputError("ファイル名に使えない文字が入っています。ファイル名を入れ直してください。") from None
    if stat.S_ISDIR(info.st_mode):
        try:
            inside = sorted(entry.name for entry in os.scandir(path)
                            if Path(entry.name).suffix.lower() in IMAGE_SUFFIXES)[:3]
        except OSError:
            inside = []
        example = inside[0] if inside else "my_photo.jpg"
        hint = f"このフォルダには {'、'.join(inside)} などがあります。" if inside else ""
        raise ImageInputError(f"{_short(text)} はフォルダで、写真のファイルではありません。"
                              f"フォルダの中の写真のファイル名まで入れてください"
                              f"（例: {_short(str(Path(text) / example))}）。{hint}")
    if not stat.S_ISREG(info.st_mode):
        raise ImageInputError(f"{_short(text)} は普通のファイルではない（デバイスやパイプなど）ので、読みません。"
                              "写真のファイルを選んでください。")
    _check_size(name, info.st_size)
    try:
        with open(path, "rb") as file:  # 読むだけ（書き込みも削除もしない）
            data = file.read(MAX_BYTES + 1)
    except PermissionError:
        raise ImageInputError(f"ファイル {_short(text)} は読む権限がないので、開けません。"
                              "ファイルの持ち主や権限（読み取りの許可）を確かめるか、"
                              "読めるフォルダにコピーしてから使ってください。") from None
    except OSError as error:
        raise _os_error(text, error, "読む") from None
    _check_size(name, len(data))
    return data


def _read(source, notes: list[str], name: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        _check_size(name, len(source))
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return _read_path(source, notes, name)
    raise ImageInputError("open_image には、ファイル名（文字列か Path）かファイルの中身（bytes）を渡してください"
                          f"（渡されたもの: {type(source).__name__}）。")


def _not_an_image(data: bytes, name: str) -> str:
    """画像として開けなかったファイルが何だったかを、先頭の数バイトから推し量って説明する。"""
    head = data[:1024]
    lower = head.lower().lstrip()
    message = f"{name}{_gap(name)}は画像として読めません"
    if head.startswith(b"%PDF"):
        return (message + "（PDF ファイルです）。PDF の中の写真は、画像（PNG・JPEG）として書き出すか、"
                "スクリーンショットを撮って使ってください。")
    if lower.startswith((b"<!doctype html", b"<html")):
        return (message + "（ウェブページ（HTML）です）。画像ではなくページを保存した可能性があります。"
                + SAVE_AND_UPLOAD)
    if b"<svg" in lower:
        return message + "（SVG、線や図形で描いた画像です）。PNG や JPEG に書き出してから使ってください。"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1",
                                                b"msf1", b"avif", b"avis"):
        return (message + "（HEIC・AVIF 形式です）。iPhone の写真なら、JPEG で書き出すか、"
                "「設定 → カメラ → フォーマット → 互換性優先」で撮ってください。")
    if head.startswith(b"PK\x03\x04"):
        return message + "（ZIP、または Word・PowerPoint などのファイルです）。中の写真を取り出して使ってください。"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return message + "（文字だけのテキストファイルです）。写真のファイルを選んでください。"
        except UnicodeDecodeError:
            pass
    return (message + "。JPEG・PNG・WebP・GIF・BMP などの画像を選んでください"
            "（iPhone の HEIC は、JPEG で書き出すか「互換性優先」の設定で撮ってください）。")


def _broken(name: str, error: BaseException) -> ImageInputError:
    if isinstance(error, EOFError) or "truncated" in str(error).lower():
        return ImageInputError(f"{name}{_gap(name)}は画像ファイルが途中で切れていて、読み込めません。アップロードや"
                               "ダウンロードが途中で止まった可能性があります。元の写真をもう一度使ってください。")
    return ImageInputError(f"{name}{_gap(name)}は画像ファイルが壊れているか途中で切れていて、読み込めません。"
                           "写真アプリなどで保存し直すか、別の写真を選んでください。")


def _too_many_pixels(name: str) -> ImageInputError:
    return ImageTooLargeError(f"{name}{_gap(name)}は画素数が多すぎて開けません（上限 {MAX_PIXELS / 1e6:.0f} 百万画素）。"
                           "縮小してから使ってください（中身に比べて画素数だけが極端に大きい、"
                           "壊れたファイルの可能性もあります）。")


def _to_gray8(image: Image.Image, name: str, notes: list[str]) -> Image.Image:
    """16 ビット（I;16）・32 ビット整数（I）・小数（F）の白黒画像を、ビット数に合わせて 8 ビットにする。

    画像ごとの最大値で割らない（一様な灰色や暗い画像が真っ白になるため）。
    """
    values = np.asarray(image)
    transparent = None
    if isinstance(image.info.get("transparency"), (int, float)):
        transparent = values == image.info["transparency"]
    if image.mode == "F":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if values.size and values.min() >= 0 and values.max() <= 1:
            gray = values * 255
            notes.append(f"{name}{_gap(name)}は 0〜1 の小数で明るさを表す白黒（グレースケール）画像なので、"
                         "1 を白として 0〜255 にし、同じ値を 3 チャンネルに並べて RGB にしました。")
        else:
            gray = values
            notes.append(f"{name}{_gap(name)}は小数で明るさを表す白黒（グレースケール）画像なので、0〜255 の範囲として"
                         "読み（範囲の外は 0 か 255 にして）、同じ値を 3 チャンネルに並べて RGB にしました。")
    else:
        values = values.astype(np.int64)
        gray = values / 257  # 65535 / 257 = 255: 16 ビットの白を 8 ビットの白にする
        outside = values.size and (values.min() < 0 or values.max() > 65535)
        notes.append(f"{name}{_gap(name)}は 16 ビットの白黒（グレースケール）画像なので、0〜65535 の明るさを"
                     " 0〜255 に縮め（65535 が白）、同じ値を 3 チャンネルに並べて RGB にしました。"
                     + ("0〜65535 の外の値は、黒か白にしました。" if outside else ""))
    gray8 = Image.fromarray(np.clip(np.rint(gray), 0, 255).astype(np.uint8))
    if transparent is not None and transparent.any():
        alpha = Image.fromarray(np.where(transparent, 0, 255).astype(np.uint8))
        gray8 = Image.merge("LA", (gray8, alpha))
    return gray8


def _to_rgb(image: Image.Image, name: str, notes: list[str]) -> Image.Image:
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_gray8(image, name, notes)
        if image.mode == "L":
            return image.convert("RGB")
    elif image.mode in ("L", "1"):
        notes.append("白黒（グレースケール）の画像なので、同じ値を 3 チャンネルに並べて RGB にしました。")
        return image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("LA").convert("RGBA") if image.mode == "La" else image.convert("RGBA")
        if rgba.getchannel("A").getextrema() == (255, 255):
            notes.append("透明度のチャンネルがありましたが、すべて不透明なので外して RGB（3 チャンネル）にしました。")
            return rgba.convert("RGB")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("透明な部分を白で塗って RGB（3 チャンネル）にしました。")
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode != "RGB":
        notes.append(f"色の形式 {MODE_NAMES.get(image.mode, image.mode)} を RGB に変換しました。")
        return image.convert("RGB")
    return image


def _decode(data: bytes, name: str, notes: list[str]) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if data.startswith(IMAGE_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            raise _broken(name, EOFError()) from None  # 画像の頭だけがあって、残りが届いていない
        raise ImageInputError(_not_an_image(data, name)) from None
    except Image.DecompressionBombError:
        raise _too_many_pixels(name) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        raise _broken(name, error) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(f"{name}{_gap(name)}は {width}×{height} 画素で大きすぎます"
                              f"（上限 {MAX_PIXELS / 1e6:.0f} 百万画素）。縮小してから使ってください。")
    try:
        if getattr(image, "n_frames", 1) > 1:
            notes.append(f"{name}{_gap(name)}は複数のフレームを持つ画像なので、最初のフレームを使います。")
        image.load()
        rotated = ImageOps.exif_transpose(image)  # スマートフォンの写真の縦横を、撮ったときの向きに直す
    except Image.DecompressionBombError:
        raise _too_many_pixels(name) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        raise _broken(name, error) from None
    if rotated is not None and rotated.size != image.size:
        notes.append("写真の向きの情報（EXIF）に合わせて回転しました。")
    image = _to_rgb(rotated if rotated is not None else image, name, notes)
    if max(image.size) > MAX_SIDE:
        before = image.size
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        notes.append(f"{before[0]}×{before[1]} 画素の画像を {image.size[0]}×{image.size[1]} 画素に"
                     "縮小しました（モデルの入力は高々 448 画素なので、結果はほぼ変わりません）。")
    return image


def _warning_note(warning: warnings.WarningMessage, name: str) -> str:
    """Pillow などの英語の警告を、学習者向けの日本語の説明にする。"""
    text = str(warning.message)
    if issubclass(warning.category, Image.DecompressionBombWarning):
        return (f"{name}{_gap(name)}は画素数がとても多い画像です（Pillow が「解凍爆弾」かもしれないと注意しました）。"
                "開くのに時間とメモリがかかります。")
    if "EXIF" in text or "tag" in text.lower():  # TiffImagePlugin: "Tag data larger than file" など
        return (f"{name}{_gap(name)}の撮影情報（EXIF など）の一部が壊れていたので、その部分は使いませんでした"
                "（写真の向きが違って見えたら、写真アプリで保存し直してください）。")
    if "MPO" in text:
        return f"{name}{_gap(name)}は複数の画像（MPO 形式）の情報が壊れていたので、普通の JPEG として 1 枚目を読みました。"
    if "APNG" in text:
        return f"{name}{_gap(name)}のアニメーション（APNG）の情報が壊れていたので、静止画として読みました。"
    if "ransparency" in text:
        return f"{name}{_gap(name)}の透明の情報をそのまま使えなかったので、透明度つきの画像として変換しました。"
    if "XMP" in text:
        return f"{name}{_gap(name)}の付加情報（XMP）は読まずに進めました（分類には使いません）。"
    if "expected size" in text:
        return f"{name}{_gap(name)}の画像の大きさが、ファイルに書かれた大きさと違っていました。"
    return (f"{name}{_gap(name)}を読むときに、画像のライブラリ（Pillow）が、ファイルの一部が規格どおりでないと注意しました。"
            "画像がおかしく見えたら、写真アプリなどで保存し直してください"
            f"（Pillow の原文: {_short(text, 120)}）。")


def open_image(source: str | Path | bytes, name: str = "") -> tuple[Image.Image, list[str]]:
    """ファイルのパスまたは中身（bytes）から RGB 画像を作り、(画像, 変換の説明のリスト) を返す。

    使えないものは ImageInputError（日本語）にする。途中で出た Pillow の警告は、
    英語のまま表示せず、日本語の説明にして説明のリストに加える。
    """
    name = name or source_name(source)
    notes: list[str] = []
    data = _read(source, notes, name)
    if not data:
        raise ImageInputError(f"{name}{_gap(name)}は空のファイル（0 バイト）で、中身がありません。アップロードが途中で"
                              "止まったか、中身のないファイルを選んだ可能性があります。写真を選び直してください。")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image = _decode(data, name, notes)
        except ImageInputError:
            raise
        except MemoryError:
            raise ImageTooLargeError(f"{name}{_gap(name)}を開く途中でメモリが足りなくなりました。"
                                  "縮小した写真を使ってください。") from None
        except Exception as error:  # Pillow の想定外の失敗も、英語のトレースバックにしない
            raise ImageInputError(f"{name}{_gap(name)}を画像として開く途中で、思わぬエラー（{type(error).__name__}）が"
                                  "起きました。写真アプリなどで JPEG か PNG に保存し直してから使ってください。") from None
    for warning in caught:
        note = _warning_note(warning, name)
        if note not in notes:
            notes.append(note)
    return image, notes
