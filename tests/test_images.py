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
    (encode(Image.new("RGB", (300, 300), (10, 20, 30)), "JPEG")[:300], "壊れているか途中で切れて"),
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
