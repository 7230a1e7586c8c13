"""学習者の写真の受け取り: 使えないファイルは日本語のエラー、直せるものは RGB に直して説明を付ける。"""

import io

import numpy as np
import pytest
from PIL import Image

from course_utils.images import MAX_SIDE, ImageInputError, open_image


def encode(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("data, expected", [
    (b"not an image at all", "画像として読めません"),
    (b"", "空のファイル"),
    (encode(Image.new("RGB", (300, 300), (10, 20, 30)), "JPEG")[:300], "途中で切れていて、読み込めません"),
    (encode(Image.new("1", (9000, 9000))), "9000×9000 画素で大きすぎます"),
])
def test_unusable_files_raise_a_japanese_error(data, expected):
    with pytest.raises(ImageInputError, match=expected):
        open_image(data, "x.bin")


def test_missing_path_says_so(tmp_path):
    with pytest.raises(ImageInputError, match="見つかりません"):
        open_image(tmp_path / "none.jpg")


def test_rgba_is_put_on_white():
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # 完全に透明な赤
    image, notes = open_image(encode(rgba), "a.png")
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)
    assert any("透明" in note for note in notes)


@pytest.mark.parametrize("image", [
    Image.new("L", (30, 20), 100),
    Image.fromarray(np.full((20, 30), 50000, dtype=np.uint16)),
])
def test_grayscale_becomes_three_equal_channels(image):
    converted, notes = open_image(encode(image), "g.png")
    assert converted.mode == "RGB" and converted.size == (30, 20)
    r, g, b = converted.getpixel((0, 0))
    assert r == g == b and any("グレースケール" in note for note in notes)


def test_cmyk_and_palette_become_rgb():
    for image, fmt in [(Image.new("CMYK", (8, 8)), "JPEG"), (Image.new("P", (8, 8)), "PNG")]:
        converted, notes = open_image(encode(image, fmt), "c")
        assert converted.mode == "RGB" and notes


def test_large_photo_is_shrunk_and_exif_rotation_applied():
    photo = Image.new("RGB", (3000, 2000), (0, 128, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # 撮ったときに 90° 回っていた（縦向きの写真）
    image, notes = open_image(encode(photo, "JPEG", exif=exif), "phone.jpg")
    assert image.size[1] == MAX_SIDE and abs(image.size[0] - MAX_SIDE * 2 / 3) <= 1  # 回転して縦長
    assert any("回転" in note for note in notes) and any("縮小" in note for note in notes)


def test_a_plain_rgb_file_from_disk_passes_without_notes(tmp_path):
    path = tmp_path / "ok.png"
    Image.new("RGB", (64, 48), (1, 2, 3)).save(path)
    image, notes = open_image(path)
    assert image.size == (64, 48) and image.mode == "RGB" and notes == []


def test_too_large_file_is_refused_before_reading(tmp_path, monkeypatch):
    from course_utils import images

    monkeypatch.setattr(images, "MAX_BYTES", 100)
    path = tmp_path / "big.png"
    path.write_bytes(b"\x00" * 101)
    for source in (path, path.read_bytes()):
        with pytest.raises(ImageInputError, match="大きすぎます（上限 0 MB）"):
            open_image(source, "big.png")


# ---------------------------------------------------------------------------
# 打ち込まれたパスとアップロード（issue 17 の 4）: どれも日本語のメッセージになり、英語が混ざらない

import base64  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from course_utils import images  # noqa: E402

ENGLISH = re.compile(r"Errno|Traceback|denied|too long|truncated|cannot identify|No such file"
                     r"|home directory|decoder|[A-Za-z]+ [A-Za-z]+ [A-Za-z]+ [A-Za-z]+")


def japanese_error(source, *args, match: str) -> str:
    """open_image が、英語の警告を出さずに、match を含む日本語の ImageInputError を出すことを確かめる。"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageInputError, match=match) as error:
            open_image(source, *args)
    message = str(error.value)
    assert not ENGLISH.search(message), message
    assert [str(w.message) for w in caught] == []
    return message


def opened_quietly(source, *args):
    """警告を外に出さずに開けることを確かめて、(画像, 説明) を返す。"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image, notes = open_image(source, *args)
    assert [str(w.message) for w in caught] == []
    assert image.mode == "RGB" and all(isinstance(note, str) for note in notes)
    return image, notes


def test_tilde_with_an_unknown_user_is_explained_not_a_runtime_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = japanese_error("~photo.jpg", match="見つかりません")
    assert "ホームフォルダ" in message and "「~」を付けずに" in message


def test_tilde_without_a_home_directory_is_explained(tmp_path, monkeypatch):
    def no_home(self):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(Path, "expanduser", no_home)
    japanese_error("~/photo.jpg", match="ホームフォルダが分かりません（環境変数 HOME がありません）")


def test_a_file_really_named_with_a_tilde_still_opens(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (5, 4)).save(tmp_path / "~photo.png")
    image, notes = opened_quietly("~photo.png")
    assert image.size == (5, 4) and notes == []


def test_a_small_valid_data_url_is_decoded_without_any_download():
    png = encode(Image.new("RGB", (6, 5), (200, 10, 10)))
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    image, notes = opened_quietly(f"  {url[:40]}\n{url[40:]}  ")  # 貼り付けで改行が入っても読める
    assert image.size == (6, 5) and image.getpixel((0, 0)) == (200, 10, 10)
    assert any("data: URL" in note and "ダウンロードはしていません" in note for note in notes)
    assert images.source_name(url) == images.DATA_URL_NAME


@pytest.mark.parametrize("url, expected", [
    ("data:image/png;base64,iVBORw0KGgo!!!", "途中で切れているか壊れていて、画像を取り出せません"),
    ("data:image/png;base64", "途中で切れていて、画像の中身がありません"),
    ("data:text/plain;base64,aGVsbG8=", "中身は画像ではありません（種類: text/plain）"),
    ("data:image/png;base64," + "A" * 400, "画像として読めません"),
])
def test_a_broken_or_non_image_data_url_is_explained(url, expected):
    message = japanese_error(url, match=expected)
    assert message.count("A" * 50) == 0  # 貼り付けた中身をそのまま並べない


def test_a_large_data_url_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES", 100)
    japanese_error("data:image/png;base64," + "A" * 400, match="大きすぎます（上限 0 MB）")


def test_a_300_character_name_is_too_long_not_errno_36(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = japanese_error("a" * 296 + ".jpg", match=r"ファイル名が長すぎます（300 文字）")
    assert "写真を選ぶ" in message


@pytest.mark.parametrize("url", [
    "https://example.com/cat.jpg", "http://example.com/cat.jpg", "HTTPS://EXAMPLE.COM/A.PNG",
    "www.example.com/cat.jpg", "blob:https://example.com/1234", Path("https://example.com/cat.jpg"),
])
def test_a_url_is_not_downloaded_and_the_learner_is_told_how_to_save_the_photo(url):
    message = japanese_error(url, match="URL から画像をダウンロードしません")
    assert "名前を付けて画像を保存" in message and "写真を選ぶ" in message
    assert "見つかりません" not in message


def test_a_folder_is_not_a_photo(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "cat.png")
    message = japanese_error(tmp_path, match="はフォルダで、写真のファイルではありません")
    assert "cat.png" in message


def test_missing_file_names_a_near_miss_and_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "Cat.JPG")
    assert "Cat.JPG があります" in japanese_error("cat.jpeg", match="見つかりません")
    assert str(tmp_path) in japanese_error("dog.jpg", match="見つかりません")
    assert "Windows" in japanese_error(r"C:\Users\me\cat.jpg", match="見つかりません")


def test_quotes_from_copy_as_path_and_file_urls_are_accepted(tmp_path):
    path = tmp_path / "my photo.png"
    Image.new("RGB", (3, 2)).save(path)
    for typed in (f'"{path}"', f"'{path}'", path.as_uri()):
        assert opened_quietly(typed)[0].size == (3, 2)


@pytest.mark.parametrize("source, expected", [
    ("", "ファイル名が空です"),
    ("a\x00b.jpg", "使えない文字（NUL）"),
    (None, "渡されたもの: NoneType"),
    (12, "渡されたもの: int"),
])
def test_odd_arguments_get_a_japanese_message(source, expected):
    japanese_error(source, match=re.escape(expected))


def test_a_pipe_is_not_read(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("FIFO を作れない OS")
    os.mkfifo(tmp_path / "pipe")
    japanese_error(tmp_path / "pipe", match="普通のファイルではない")  # 読みに行くと止まってしまう


def test_unreadable_file_is_explained_simulated(tmp_path, monkeypatch):
    """root ではファイルの権限が効かないので、open が PermissionError を出す状況を作って確かめる。"""
    path = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images, "open", denied, raising=False)
    japanese_error(path, match="読む権限がないので、開けません")


def test_unenterable_folder_is_explained_simulated(tmp_path, monkeypatch):
    path = tmp_path / "locked" / "photo.png"
    real_stat = Path.stat

    def stat(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    japanese_error(path, match="フォルダを見る権限がないので、開けません")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root には読み取りの権限が効かない（上の 2 つのテストで代わりに確かめる）")
def test_unreadable_file_and_folder_with_chmod(tmp_path):
    path = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(path)
    path.chmod(0)
    folder = tmp_path / "locked"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / "photo.png")
    folder.chmod(0)
    try:
        japanese_error(path, match="読む権限がないので、開けません")
        japanese_error(folder / "photo.png", match="フォルダを見る権限がないので、開けません")
    finally:
        path.chmod(0o644)
        folder.chmod(0o755)


@pytest.mark.parametrize("data, expected", [
    ("これは画像ではありません".encode(), "画像として読めません（文字だけのテキストファイルです）"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "画像として読めません（PDF ファイルです）"),
    (b"<!DOCTYPE html><html><body>", "ウェブページ（HTML）です"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(40), "HEIC・AVIF 形式です"),
    (encode(Image.effect_noise((200, 200), 40).convert("RGB"), "JPEG")[:-400], "途中で切れていて"),
    (encode(Image.effect_noise((200, 200), 40).convert("RGB"))[:3000], "途中で切れていて"),
    (encode(Image.new("RGB", (20, 20)))[:30], "途中で切れていて"),  # 頭だけ届いた PNG
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "読み込めません"),
])
def test_non_images_and_truncated_images_are_named(data, expected):
    japanese_error(data, "x", match=re.escape(expected))


def test_empty_file_on_disk_is_empty_not_missing(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    japanese_error(tmp_path / "empty.jpg", match=r"空のファイル（0 バイト）")


def test_a_decompression_bomb_is_refused_in_japanese_without_the_english_warning():
    # 9000 × 10000 は Pillow の警告（約 8,900 万画素）を越え、この教材の上限（6,000 万画素）も越える
    japanese_error(encode(Image.new("1", (9000, 10000))), "bomb.png", match="9000×10000 画素で大きすぎます")


def test_pillows_own_decompression_bomb_error_is_japanese(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # 2 倍（20 画素）を越えると Pillow がエラーにする
    japanese_error(encode(Image.new("RGB", (5, 5))), "bomb.png", match="画素数が多すぎて開けません")


def tree_digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_no_error_path_changes_or_deletes_the_learners_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("メモ")
    (tmp_path / "cut.jpg").write_bytes(encode(Image.effect_noise((100, 100), 40).convert("RGB"), "JPEG")[:500])
    (tmp_path / "big.png").write_bytes(encode(Image.new("1", (9000, 10000))))
    (tmp_path / "folder").mkdir()
    before = tree_digest(tmp_path)
    for typed in ["empty.jpg", "notes.txt", "cut.jpg", "big.png", "folder", "missing.jpg", "~x.jpg",
                  "a" * 300, "https://example.com/ok.png", "data:image/png;base64,AAAA"]:
        with pytest.raises(ImageInputError):
            open_image(typed)
    open_image("ok.png")
    assert tree_digest(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png", "cut.jpg", "empty.jpg", "folder",
                                                         "notes.txt", "ok.png"]


# ---------------------------------------------------------------------------
# 変換（issue 17 の 10）: ビット数どおりに変換し、Pillow の英語の警告は日本語の説明にする

def gray16(value: int, size=(6, 4)) -> Image.Image:
    return Image.fromarray(np.full(size[::-1], value, dtype=np.uint16))


@pytest.mark.parametrize("value, expected", [(0, 0), (300, 1), (32768, 128), (50000, 195), (65535, 255)])
def test_16_bit_grayscale_is_scaled_by_its_bit_depth_not_its_own_maximum(value, expected):
    image, notes = opened_quietly(encode(gray16(value)), "g16.png")
    assert Image.open(io.BytesIO(encode(gray16(value)))).mode.startswith("I")
    assert image.getpixel((0, 0)) == (expected,) * 3
    assert any("16 ビット" in note and "65535 が白" in note for note in notes)


def test_a_16_bit_gradient_keeps_its_brightness():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (3, 1))
    image, _ = opened_quietly(encode(Image.fromarray(ramp)), "ramp.png")
    row = np.asarray(image)[0, :, 0].astype(int)
    assert np.abs(row - np.arange(256)).max() <= 1  # 0〜65535 の階段が 0〜255 の階段になる


def test_16_bit_transparency_is_put_on_white():
    data = encode(Image.fromarray(np.array([[0, 0], [32768, 32768]], np.uint16)), transparency=0)
    image, notes = opened_quietly(data, "t16.png")
    assert image.getpixel((0, 0)) == (255, 255, 255) and image.getpixel((0, 1)) == (128, 128, 128)
    assert any("透明" in note for note in notes)


def lab_gray():
    return Image.merge("LAB", [Image.new("L", (4, 4), 128)] * 3)


def palette_with_transparency():
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 200, 0, 0] + [0, 0, 0] * 254)
    image.putpixel((0, 0), 0)
    return encode(image, transparency=0)


@pytest.mark.parametrize("data, pixel, expected, note", [
    (encode(Image.new("1", (4, 4), 1)), (0, 0), (255, 255, 255), "グレースケール"),
    (encode(Image.new("L", (4, 4), 77)), (0, 0), (77, 77, 77), "グレースケール"),
    (encode(Image.new("LA", (4, 4), (0, 0))), (0, 0), (255, 255, 255), "透明な部分を白"),
    (encode(Image.new("LA", (4, 4), (0, 255))), (0, 0), (0, 0, 0), "すべて不透明"),
    (palette_with_transparency(), (0, 0), (255, 255, 255), "透明な部分を白"),
    (palette_with_transparency(), (1, 1), (200, 0, 0), "透明な部分を白"),
    (encode(Image.new("P", (4, 4))), (0, 0), (0, 0, 0), "パレット"),
    (encode(Image.new("RGBA", (4, 4), (255, 0, 0, 0))), (0, 0), (255, 255, 255), "透明な部分を白"),
    (encode(Image.new("RGBA", (4, 4), (10, 20, 30, 255))), (0, 0), (10, 20, 30), "すべて不透明"),
    (encode(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG"), (0, 0), (255, 0, 0), "CMYK"),
    (encode(Image.new("CMYK", (4, 4), (0, 0, 0, 0)), "TIFF"), (0, 0), (255, 255, 255), "CMYK"),
    (encode(Image.fromarray(np.full((4, 4), 32768, np.int32)), "TIFF"), (0, 0), (128, 128, 128), "16 ビット"),
    (encode(Image.fromarray(np.full((4, 4), 0.5, np.float32)), "TIFF"), (0, 0), (128, 128, 128), "0〜1 の小数"),
    (encode(Image.fromarray(np.full((4, 4), 100.0, np.float32)), "TIFF"), (0, 0), (100, 100, 100), "0〜255 の範囲"),
    (encode(lab_gray(), "TIFF"), (0, 0), (119, 119, 119), "Lab"),
])
def test_every_mode_becomes_sensible_rgb(data, pixel, expected, note):
    image, notes = opened_quietly(data, "m")
    assert image.getpixel(pixel) == expected
    assert any(note in text for text in notes), notes


def jpeg_with_corrupt_exif() -> bytes:
    jpeg = encode(Image.new("RGB", (8, 8), (0, 200, 0)), "JPEG")
    payload = b"Exif\x00\x00" + b"II*\x00\x08\x00\x00\x00" + b"\x05\x00" + b"\x12\x01\x03"  # 5 つのうち途中で切れる
    return jpeg[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def test_corrupt_exif_warning_becomes_a_japanese_note():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.warns(UserWarning, match="Corrupt EXIF"):  # Pillow 自身は英語で警告する
            Image.open(io.BytesIO(jpeg_with_corrupt_exif())).getexif()
    image, notes = opened_quietly(jpeg_with_corrupt_exif(), "exif.jpg")
    assert image.size == (8, 8)
    assert notes == ["exif.jpg の撮影情報（EXIF など）の一部が壊れていたので、その部分は使いませんでした"
                     "（写真の向きが違って見えたら、写真アプリで保存し直してください）。"]


def test_decompression_bomb_warning_becomes_a_japanese_note(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # 25 画素は警告だけ（40 画素を越えるとエラー）
    image, notes = opened_quietly(encode(Image.new("RGB", (5, 5))), "wide.png")
    assert image.size == (5, 5) and any("画素数がとても多い画像" in note for note in notes)
    assert not any("DecompressionBomb" in note for note in notes)


def test_any_other_library_warning_is_explained_in_japanese(monkeypatch):
    real = images.ImageOps.exif_transpose

    def noisy(image):
        warnings.warn("Something unusual in this file")
        warnings.warn("Something unusual in this file")
        return real(image)

    monkeypatch.setattr(images.ImageOps, "exif_transpose", noisy)
    _, notes = opened_quietly(encode(Image.new("RGB", (4, 4))), "odd.png")
    assert len(notes) == 1 and notes[0].startswith("odd.png を読むときに、画像のライブラリ（Pillow）が")


def test_an_unexpected_library_failure_is_japanese(monkeypatch):
    def broken(image):
        raise KeyError("boom")

    monkeypatch.setattr(images.ImageOps, "exif_transpose", broken)
    japanese_error(encode(Image.new("RGB", (4, 4))), "k.png", match="思わぬエラー（KeyError）")


def test_open_image_keeps_the_signature_the_notebook_uses(tmp_path):
    """07 は open_image(パス)[0] と open_image(bytes, 名前) の (画像, 説明) を使う。"""
    path = tmp_path / "cat.png"
    Image.new("RGB", (7, 5)).save(path)
    assert open_image(path)[0].size == (7, 5)
    assert open_image(str(path))[0].size == (7, 5)
    image, notes = open_image(encode(Image.new("L", (7, 5))), "白黒.jpg")
    assert image.mode == "RGB" and isinstance(notes, list)
