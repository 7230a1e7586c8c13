"""描く枠（DigitPad）とカメラ（CameraCapture）の Python の側を、ブラウザなしで確かめる。

ブラウザの側（線を引く、カメラの映像を撮る）は tests/test_browser.py が本物の Chromium で確かめる。
04 の前処理 prepare_mnist は、ノートブックのセルを実行して、MNIST の作り方どおりかを確かめる
（MNIST の数字を拡大して通すと元に戻るか、描いた数字の重心が MNIST の数字と同じ位置に来るか）。
"""

import base64
import inspect
import io
import json
from importlib import resources
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from course_utils import data, digit_files, live


# --- 線 → 画像 --------------------------------------------------------------------------------

def test_render_strokes_draws_a_round_line_of_the_canvas_width():
    image = live.render_strokes([[[40, 140], [240, 140]]])
    assert image.shape == (280, 280) and image.dtype == np.float32
    assert image[140, 40:241].min() == 1.0  # 線の上はインク
    column = image[:, 140]
    assert abs(column.sum() - live.LINE_WIDTH) <= 2  # 太さ 18 画素ほど
    assert image[140, 40 - live.LINE_WIDTH // 2 + 1] > 0  # 端は丸い（始点の左にもはみ出す）
    assert image[:100].max() == 0 and image[180:].max() == 0


def test_a_single_point_is_a_dot_and_nothing_is_empty():
    dot = live.render_strokes([[[100, 100]]])
    assert dot[100, 100] == 1.0 and 0 < dot.sum() < 400
    assert live.render_strokes([]).max() == 0


@pytest.mark.parametrize("bad, message", [(5, "リストで渡して"), ([[1, 2, 3]], "1 本目の線"),
                                          ([[[1, 2]], "ab"], "2 本目の線")])
def test_check_strokes_explains_a_wrong_shape(bad, message):
    with pytest.raises(ValueError, match=message):
        live.check_strokes(bad)


def test_the_file_module_stands_alone_and_live_still_offers_its_names():
    """描いた数字のファイルは digit_files（live も部品のパッケージも読み込まない）。ノートブックは live から読める。"""
    import subprocess
    import sys

    code = ("import sys; import course_utils.digit_files; "
            "print(sorted(m for m in ('course_utils.live', 'ipywidgets', 'anywidget', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
    for name in ("load_drawn_digits", "check_strokes", "CANVAS_SIZE", "MAX_POINTS", "DRAWN_DIGITS_FILE"):
        assert getattr(live, name) is getattr(digit_files, name)


def test_the_camera_module_stands_alone_and_live_still_offers_its_names():
    """カメラの部品は camera（live を読み込まない）。07 は live から CameraCapture を読める。"""
    import subprocess
    import sys

    from course_utils import camera

    code = ("import sys; import course_utils.camera; "
            "print(sorted(m for m in ('course_utils.live', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
    for name in camera.__all__:
        if name != "NEEDS":
            assert getattr(live, name) is getattr(camera, name)


def test_shipped_drawn_digits():
    digits = live.load_drawn_digits()
    assert len(digits) == 200
    assert sorted(np.bincount([label for _, label in digits]).tolist()) == [20] * 10
    for strokes, _ in digits:
        points = np.array([p for stroke in strokes for p in stroke])
        assert points.min() >= 0 and points.max() <= live.CANVAS_SIZE
    about = json.loads((ROOT / "course_utils" / live.DRAWN_DIGITS_FILE).read_text())["about"]
    assert "人が描いたものではない" in about


# --- 04 の前処理（ノートブックのセル） -------------------------------------------------------------

@pytest.fixture(scope="module")
def cnn_notebook():
    nb = nbformat.read(ROOT / "notebooks" / "04_cnn.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def prepare_raw("))
    namespace = {"np": np, "Image": Image}
    exec(compile(cell.source.split("\n\n\ndef predict_digits(")[0], "04_cnn.ipynb", "exec"), namespace)
    return namespace


def _centre_of_mass(image):
    ys, xs = np.indices(image.shape)
    return (ys * image).sum() / image.sum(), (xs * image).sum() / image.sum()


@pytest.mark.parametrize("box", [(10, 20, 30, 40), (200, 230, 220, 275), (0, 280, 130, 150),
                                 (120, 140, 0, 280)])
def test_prepare_mnist_fits_20_pixels_and_centres_the_mass(cnn_notebook, box):
    """どこにどんな大きさで描いても、長い辺が 20 画素になり、重心が MNIST の数字と同じ画素の番号 14 付近に来る。"""
    top, bottom, left, right = box
    image = np.zeros((280, 280), dtype=np.float32)
    image[top:bottom, left:right] = 1.0
    out = cnn_notebook["prepare_mnist"](image)
    assert out.shape == (28, 28) and out.min() >= 0 and out.max() <= 1
    rows, cols = np.nonzero(out > 0.05)
    assert max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == 20
    cy, cx = _centre_of_mass(out)
    assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5  # 整数の画素数でずらすので ±0.5 まで


def _quick_mnist(count):
    """講座に同梱した MNIST の部分集合（訓練用）の先頭 count 枚、0〜1。"""
    with resources.files("course_utils").joinpath(data.QUICK_FILE).open("rb") as f:
        return np.load(f)["train_images"][:count].astype(np.float32) / 255


def test_prepare_mnist_puts_mnist_digits_back_where_mnist_put_them(cnn_notebook):
    """MNIST の数字を 10 倍に拡大して前処理に通すと、元の画像に戻る（重心を 28 画素の真ん中 13.5 に
    置く前処理では、戻るのは 4 分の 1 ほど）。MNIST は重心を画素の番号 14 に合わせて整数の画素数でずらした。"""
    images = _quick_mnist(200)
    for prepare in (cnn_notebook["prepare_mnist"], live.prepare_like_mnist):
        same = [np.allclose(prepare(x.repeat(10, axis=0).repeat(10, axis=1), threshold=0), x, atol=1e-6)
                for x in images]
        assert np.mean(same) >= 0.98
    middle = [np.allclose(live.prepare_like_mnist(x.repeat(10, axis=0).repeat(10, axis=1), threshold=0,
                                                  centre=13.5), x, atol=1e-6) for x in images]
    assert np.mean(middle) < 0.5  # 目標の位置を変えると再現しない（この検査が効いている証拠）


def test_prepared_drawn_digits_sit_where_mnist_digits_sit():
    """同梱の描いた数字を前処理すると、重心の平均が MNIST の訓練画像の重心の平均と 0.1 画素以内でそろう。"""
    mnist = _quick_mnist(5000)
    mnist_rows, mnist_cols = _centre_of_mass_each(mnist)
    assert abs(mnist_rows.mean() - 14.0) < 0.05 and abs(mnist_cols.mean() - 14.0) < 0.05
    prepared = np.stack([live.prepare_like_mnist(live.render_strokes(strokes))
                         for strokes, _ in live.load_drawn_digits()])
    rows, cols = _centre_of_mass_each(prepared)
    assert abs(rows.mean() - mnist_rows.mean()) < 0.1 and abs(cols.mean() - mnist_cols.mean()) < 0.1
    assert np.abs(rows - 14.0).max() <= 0.5 and np.abs(cols - 14.0).max() <= 0.5


def _centre_of_mass_each(images):
    ys = np.arange(images.shape[1])
    mass = images.sum(axis=(1, 2))
    return images.sum(axis=2) @ ys / mass, images.sum(axis=1) @ ys / mass


def test_prepare_mnist_keeps_the_aspect_ratio_and_makes_grey(cnn_notebook):
    image = np.zeros((280, 280), dtype=np.float32)
    image[50:250, 100:150] = 1.0  # 縦 200、横 50（4:1）
    out = cnn_notebook["prepare_mnist"](image)
    rows, cols = np.nonzero(out > 0.05)
    assert rows.max() - rows.min() + 1 == 20 and cols.max() - cols.min() + 1 == 5
    line = live.render_strokes([[[60, 60], [220, 230]]])  # 斜めの線は縮めると灰色の画素が生まれる
    prepared = cnn_notebook["prepare_mnist"](line)
    assert ((prepared > 0.1) & (prepared < 0.9)).sum() > 5


def test_prepare_raw_is_the_block_mean(cnn_notebook):
    image = np.zeros((280, 280), dtype=np.float32)
    image[:10, :10] = 1.0
    image[270:, 275:] = 1.0
    out = cnn_notebook["prepare_raw"](image)
    assert out.shape == (28, 28) and out[0, 0] == 1.0 and out[27, 27] == 0.5
    assert cnn_notebook["prepare_mnist"](np.zeros((280, 280), np.float32)).max() == 0


def test_the_module_copies_match_the_notebooks_functions(cnn_notebook):
    """06 が使う course_utils.live の前処理は、04 のノートブックに書いたものと同じ結果になる。"""
    for strokes, _ in live.load_drawn_digits()[:60]:
        image = live.render_strokes(strokes)
        assert np.array_equal(live.prepare_like_mnist(image), cnn_notebook["prepare_mnist"](image))
        assert np.array_equal(live.prepare_raw(image), cnn_notebook["prepare_raw"](image))
    notebook_centre = inspect.signature(cnn_notebook["prepare_mnist"]).parameters["centre"].default
    assert notebook_centre == live.MNIST_CENTRE == 14.0


# --- DigitPad -----------------------------------------------------------------------------------

def _by_position(images):
    """インクの重心が左半分なら 0、右半分なら 1 と答える、予測の関数の代わり。"""
    out = np.zeros((len(images), 10))
    for k, image in enumerate(np.asarray(images)[:, 0]):
        right = image[:, 14:].sum() > image[:, :14].sum()
        out[k, int(right)] = 0.9
        out[k, 2:] = 0.1 / 8
    return out


PREPARATIONS = {"そのまま": lambda image: image.reshape(28, 10, 28, 10).mean(axis=(1, 3)),
                "左右反転": lambda image: image.reshape(28, 10, 28, 10).mean(axis=(1, 3))[:, ::-1]}


def test_drawing_updates_the_preview_and_the_bars():
    pad = live.DigitPad(_by_position, PREPARATIONS, save_path=None)
    assert pad.probabilities is None and "描いてください" in pad.bars.value
    empty_preview = pad.preview.value
    pad.draw([[[230, 60], [230, 220]]])  # 右側の縦線
    assert pad.probabilities.argmax() == 1 and pad.preview.value != empty_preview
    assert pad.image28[:, 14:].sum() > 0 and pad.image28[:, :14].sum() == 0
    assert "<b>← 予測</b></div>" in pad.bars.value.split("<div")[2]  # 「1」の行に印
    pad.choice.value = "左右反転"  # 前処理を替えると、同じ線で予測が変わる
    assert pad.probabilities.argmax() == 0
    pad.clear()
    assert pad.strokes == [] and pad.probabilities is None and pad.image28.max() == 0


def test_strokes_from_the_browser_arrive_as_lists():
    """ブラウザは線を引き終えるたびに strokes を送る（ここでは traitlets の変更で同じことをする）。"""
    pad = live.DigitPad(_by_position, PREPARATIONS, save_path=None)
    pad.canvas.strokes = [[[40, 40], [45, 200]], [[60, 50]]]
    assert pad.probabilities.argmax() == 0


def test_errors_in_the_notebooks_functions_are_shown_in_japanese(capsys):
    def broken(images):
        raise RuntimeError("形が合いません")

    pad = live.DigitPad(broken, PREPARATIONS, save_path=None)
    pad.draw([[[100, 100], [150, 150]]])
    assert "予測の関数でエラーになりました: RuntimeError: 形が合いません" in pad.message.value
    pad = live.DigitPad(_by_position, {"小さい": lambda image: np.zeros((14, 14))}, save_path=None)
    pad.draw([[[100, 100], [150, 150]]])
    assert "(28, 28) を返してください" in pad.message.value
    pad = live.DigitPad(lambda images: np.ones((1, 3)), PREPARATIONS, save_path=None)
    pad.draw([[[100, 100], [150, 150]]])
    assert "10 個のはずです" in pad.message.value
    capsys.readouterr()
    with pytest.raises(ValueError, match="前処理の関数を 1 つ以上"):
        live.DigitPad(_by_position, {})


def test_saving_an_example(tmp_path):
    path = tmp_path / "mine.json"
    pad = live.DigitPad(_by_position, PREPARATIONS, save_path=path)
    assert not pad.save() and "まだ何も描かれていません" in pad.message.value
    pad.draw([[[50, 50], [60, 200]]])
    assert not pad.save() and "「正解:」" in pad.message.value
    pad.label.value = 1
    assert pad.save() and "1 個目の例として保存しました" in pad.message.value
    saved = json.loads(path.read_text())["digits"]
    assert saved == [{"label": 1, "strokes": [[[50.0, 50.0], [60.0, 200.0]]]}]
    pad.save_path = tmp_path / "no" / "such" / "folder.json"
    assert pad.save() and "には書けませんでした" in pad.message.value and len(pad.saved) == 2


def test_saved_examples_are_appended_and_can_be_measured(tmp_path):
    """別の部品（ノートブックを実行し直したとき、06 の部品）で保存しても、前の例は消えない。"""
    path = tmp_path / "mine.json"
    for label, strokes in [(1, [[[140, 40], [140, 240]]]), (7, [[[60, 60], [220, 60], [120, 240]]])]:
        pad = live.DigitPad(_by_position, PREPARATIONS, save_path=path)
        pad.draw(strokes)
        pad.label.value = label
        assert pad.save()
    assert "中身は 2 個" in pad.message.value
    digits = live.load_drawn_digits(path)
    assert [label for _, label in digits] == [1, 7] and digits[1][0][0][2] == [120.0, 240.0]
    path.write_text("これは JSON ではありません")
    pad.save()
    assert "書き足していません" in pad.message.value and "JSON）として読めません" in pad.message.value
    with pytest.raises(ValueError, match="JSON）として読めません"):
        live.load_drawn_digits(path)
    path.write_text('{"digits": [{"label": 3}]}')
    with pytest.raises(ValueError, match="描いた数字のファイルの形"):
        live.load_drawn_digits(path)
    with pytest.raises(FileNotFoundError, match="例として保存"):
        live.load_drawn_digits(tmp_path / "none.json")


# --- カメラ -------------------------------------------------------------------------------------

def _data_url(size=(64, 48), colour=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_photo_from_the_camera_reaches_classify():
    seen = []
    camera = live.CameraCapture(lambda image, name: seen.append((image.size, name)))
    camera.view.photo = _data_url()  # ブラウザが「撮影」で送るのと同じ
    assert camera.view.photo == ""  # 受け取った写真は部品の状態に残さない
    camera.view.photo = _data_url()  # 同じ写真でも、もう一度届けば分類する
    assert seen == [((64, 48), "カメラの写真 1 枚目（64×48）"), ((64, 48), "カメラの写真 2 枚目（64×48）")]


@pytest.mark.parametrize("bad", ["", "hello", "data:image/jpeg;base64,!!!", "data:image/jpeg;base64,AAAA",
                                 "data:text/plain;base64,aGk="])
def test_a_broken_photo_is_explained(bad):
    with pytest.raises(ValueError, match="カメラから"):
        live.decode_photo(bad)


def test_a_failing_classify_is_reported_and_the_widget_survives(capsys):
    def broken(image, name):
        raise KeyError("x")

    camera = live.CameraCapture(broken)
    assert not camera.take(_data_url())
    assert "✗ 分類の関数でエラーになりました" in capsys.readouterr().out
    camera.classify = lambda image, name: print(f"分類しました: {name}")
    assert camera.take(_data_url())  # 部品はそのまま使える
    assert "分類しました: カメラの写真" in capsys.readouterr().out


@pytest.mark.parametrize("error, expected", [
    ("NotAllowedError: Permission denied", "許可されませんでした"),
    ("NotFoundError: Requested device not found", "カメラが見つかりませんでした"),
    ("NotReadableError: Could not start video source", "ほかのアプリ"),
    ("SecurityError: ", "カメラの使用が禁止されています"),
    ("insecure: ", "https か localhost"),
    ("unsupported: ", "対応していません"),
    ("AbortError: something", "ブラウザの知らせ: AbortError: something")])
def test_camera_errors_become_japanese_with_the_upload_instead(error, expected):
    message = live.camera_error_message(error)
    assert expected in message and live.UPLOAD_INSTEAD in message and message.startswith("✗")


def test_an_error_from_the_browser_is_shown_in_the_output(capsys):
    """カーネルの外では Output の中身は標準出力に出る（ノートブックでは部品の下の欄に出る）。"""
    camera = live.CameraCapture(lambda image, name: None)
    camera.view.error = "NotAllowedError: Permission denied"
    shown = capsys.readouterr().out
    assert "許可されませんでした" in shown and "写真を選ぶ" in shown
    camera.view.error = "NotAllowedError: Permission denied"  # 同じエラーがもう一度起きても表示する
    assert "許可されませんでした" in capsys.readouterr().out


# --- 保存はファイルを壊さない（issue 29） ---------------------------------------------------------

def _saved_pad(path, label=3, strokes=((60, 60), (200, 200))):
    pad = live.DigitPad(_by_position, PREPARATIONS, save_path=path)
    pad.draw([[list(p) for p in strokes]])
    pad.label.value = label
    return pad


@pytest.mark.parametrize("content", [
    '{"theme": "dark", "font_size": 14}',  # 設定のファイル
    '[1, 2, 3]',
    '{"digits": [{"label": 3}]}',  # 形の壊れた例
    '{"digits": "なし"}',
    "これは JSON ではありません",
    b"\xff\xfe\x00\x01",  # UTF-8 でない
    "[" * 100_000,  # 入れ子が深すぎる
])
def test_saving_never_overwrites_a_file_that_is_not_a_drawn_digits_file(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = path.read_bytes()
    pad = _saved_pad(path)
    assert pad.save() and len(pad.saved) == 1  # 部品の中には保存する
    assert "書き足していません" in pad.message.value and "ファイルは元のまま" in pad.message.value
    assert "save_path=" in pad.message.value  # 別の名前にする方法
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_saving_keeps_keys_the_course_does_not_know(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"about": "私の数字", "author": "山田", "settings": {"pen": 3},
                                "digits": [{"label": 1, "strokes": [[[140, 40], [140, 240]]],
                                            "note": "1 本目"}]}, ensure_ascii=False))
    pad = _saved_pad(path)
    assert pad.save() and "中身は 2 個" in pad.message.value
    data = json.loads(path.read_text())
    assert data["about"] == "私の数字" and data["author"] == "山田" and data["settings"] == {"pen": 3}
    assert data["digits"][0]["note"] == "1 本目" and [d["label"] for d in data["digits"]] == [1, 3]


def test_a_new_file_says_what_it_is_and_can_be_read_back(tmp_path):
    path = tmp_path / "new.json"
    assert _saved_pad(path).save()
    assert "DigitPad" in json.loads(path.read_text())["about"]
    assert live.load_drawn_digits(path)[0][1] == 3


@pytest.fixture
def full_disk(monkeypatch):
    """ディスクがいっぱい: 書き込みが半分まで進んだところで OSError(ENOSPC) になる。

    os.write（一時ファイルに書く方法）と Path.write_text（前の版の、上書きする書き方）の両方で起きる。
    what を KeyboardInterrupt にすると、Ctrl-C で止めたときになる。
    """
    import errno
    import os
    import pathlib

    state = {"what": OSError(errno.ENOSPC, "No space left on device")}
    real_write = os.write

    def write(fd, data):
        if fd <= 2:
            return real_write(fd, data)
        real_write(fd, bytes(data[:len(data) // 2]))
        raise state["what"]

    def write_text(self, text, *args, **kwargs):
        with open(self, "w", encoding="utf-8") as f:
            f.write(text[:len(text) // 2])
        raise state["what"]

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    return state


def test_a_full_disk_half_way_leaves_the_earlier_examples_as_they_were(tmp_path, full_disk):
    path = tmp_path / "mine.json"
    path.write_bytes(json.dumps({"digits": [{"label": 1, "strokes": [[[140, 40], [140, 240]]]}]}).encode())
    before = path.read_bytes()
    pad = _saved_pad(path)
    assert pad.save()
    assert "ディスクの空きが足りません" in pad.message.value and "前に保存した例も残っています" in pad.message.value
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]  # 一時ファイルも残さない


def test_ctrl_c_while_saving_leaves_the_file_as_it_was(tmp_path, full_disk):
    path = tmp_path / "mine.json"
    path.write_bytes(json.dumps({"digits": [{"label": 1, "strokes": [[[140, 40], [140, 240]]]}]}).encode())
    before = path.read_bytes()
    full_disk["what"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        _saved_pad(path).save()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]


def test_saving_into_a_folder_or_an_unreadable_file_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "digits"
    folder.mkdir()
    pad = _saved_pad(folder)
    assert pad.save() and "はフォルダで" in pad.message.value and folder.is_dir()
    locked = tmp_path / "locked.json"
    locked.write_text('{"digits": []}')
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.json":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    pad = _saved_pad(locked)
    assert pad.save() and "読む権限がない" in pad.message.value
    assert locked.read_text() == '{"digits": []}'


def test_saving_keeps_the_files_permissions_and_writes_through_a_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text('{"digits": []}')
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert _saved_pad(link).save()
    assert link.is_symlink() and (real.stat().st_mode & 0o777) == 0o640
    assert len(json.loads(real.read_text())["digits"]) == 1


# --- 描いた数字のファイルを読む（issue 29） -------------------------------------------------------

def test_load_drawn_digits_explains_a_folder_and_a_file_it_may_not_read(tmp_path, monkeypatch):
    with pytest.raises(IsADirectoryError, match="フォルダで、ファイルではありません"):
        live.load_drawn_digits(tmp_path)
    path = tmp_path / "mine.json"
    path.write_text('{"digits": []}')

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(PermissionError, match="読む権限がない"):
        live.load_drawn_digits(path)


@pytest.mark.parametrize("content, message", [
    ("[" * 100_000, "入れ子が深すぎて"),
    ('{"digits": [{"label": 3, "strokes": [[[[[[[[1, 2]]]]]]]]}]}', "1 個目の例: 1 本目の線"),
    ('{"digits": [{"label": 3, "strokes": [[null, [1, 2]]]}]}', "null"),
    ('{"digits": [{"label": 3, "strokes": [[[NaN, 2]]]}]}', "NaN"),
    ('{"digits": [{"label": 12, "strokes": [[[1, 2]]]}]}', "0〜9 の整数"),
    ('{"digits": [{"label": 1e999, "strokes": [[[1, 2]]]}]}', "0〜9 の整数"),
    ('{"digits": [{"label": true, "strokes": [[[1, 2]]]}]}', "0〜9 の整数"),
    ("", "空のファイル"),
])
def test_load_drawn_digits_explains_broken_files_in_japanese(tmp_path, content, message):
    path = tmp_path / "mine.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        live.load_drawn_digits(path)


def test_load_drawn_digits_refuses_a_pipe_instead_of_waiting_forever(tmp_path):
    import os

    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match="普通のファイルではない"):
        live.load_drawn_digits(pipe)


def test_load_drawn_digits_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "mine.json"
    assert _saved_pad(path).save()
    assert live.load_drawn_digits("~/mine.json")[0][1] == 3
    pad = _saved_pad("~/mine.json")  # 保存先にも ~ が使える
    assert pad.save() and "中身は 2 個" in pad.message.value


# --- カメラの写真（issue 29） ---------------------------------------------------------------------

def _bomb_png(width=50_000, height=50_000):
    """中身は小さいのに、見出しに巨大な画素数を書いた PNG（解凍爆弾）。"""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_a_decompression_bomb_from_the_camera_is_refused_and_not_kept(capsys):
    url = "data:image/png;base64," + base64.b64encode(_bomb_png()).decode()
    with pytest.raises(ValueError, match="画素数が多すぎて開けません"):
        live.decode_photo(url)
    seen = []
    camera = live.CameraCapture(lambda image, name: seen.append(name))
    camera.view.photo = url
    assert "画素数が多すぎて開けません" in capsys.readouterr().out
    assert seen == [] and camera.view.photo == ""


def test_the_photo_leaves_the_widget_state_before_classify_runs():
    during = []
    camera = live.CameraCapture(lambda image, name: during.append(camera.view.photo))
    camera.view.photo = _data_url()
    assert during == [""]


# --- 壊れた線、確率でない予測、違う形の引数（issue 29） -------------------------------------------

POINT = [100.0, 100.0]


@pytest.mark.parametrize("strokes", [
    [[None, [1, 2]]],  # null の点
    [None],  # null の線
    [[[1, [2, [3, [4]]]]]],  # 入れ子が深すぎる点
    [[{"x": 1, "y": 2}]],
    [[[float("nan"), 5]]],
    [[[1e300, 5]]],
    [[POINT] * 10**6],  # 多すぎる点
    [[POINT]] * 10**5,  # 多すぎる線
])
def test_malformed_strokes_from_the_browser_are_blamed_on_the_strokes(strokes, capsys):
    import time

    called = []
    pad = live.DigitPad(lambda images: called.append(1) or _by_position(images), PREPARATIONS,
                        save_path=None)
    # 届いた線を JSON から読み、ブラウザへ送り返す ipywidgets の仕事（点の数に比例する）は測らない。
    # ブラウザの側は MAX_POINTS 点より多くは送らない
    pad.canvas.send_state = lambda *args, **kwargs: None
    start = time.perf_counter()
    pad.canvas.strokes = strokes  # ブラウザから届いたのと同じ
    assert time.perf_counter() - start < 0.5  # 待たせない
    message = pad.message.value
    assert "届いた線の形がおかしい" in message and "消す" in message
    assert "前処理" not in message and "予測の関数" not in message
    assert called == [] and pad.probabilities is None and "予測" not in pad.bars.value
    pad.label.value = 1
    assert not pad.save() and pad.saved == []
    assert capsys.readouterr().err == ""  # 英語のトレースバックも出さない


def _returning(values):
    return lambda images: np.asarray([values], dtype=np.float32)


LOGITS = [8.5, -2.0, 0.3, 1.1, -0.7, 2.2, 0.0, -1.5, 3.0, 0.4]


@pytest.mark.parametrize("values, message", [
    (LOGITS, "ロジットのようです。softmax をかけてください"),
    ([float("nan")] * 10, "NaN"),
    ([0.9] + [0.5] * 9, "合計が 5.4 で、1 になりません"),  # sigmoid の値
    (list(np.log(np.full(10, 0.1))), "log_softmax"),
])
def test_a_prediction_that_is_not_probabilities_gets_a_note_instead_of_bars(values, message):
    pad = live.DigitPad(_returning(values), PREPARATIONS, save_path=None)
    pad.draw([[[100, 100], [150, 150]]])
    assert message in pad.message.value
    assert pad.bars.value == "" and pad.probabilities is None  # 「850 %」や「nan %」の棒を出さない
    assert pad.image28.max() > 0  # 前処理した画像は見せる


def test_probabilities_with_rounding_are_accepted():
    values = np.full(10, 0.1, dtype=np.float32)
    values[0] += 1e-4
    pad = live.DigitPad(_returning(values), PREPARATIONS, save_path=None)
    pad.draw([[[100, 100], [150, 150]]])
    assert pad.message.value == "" and "← 予測" in pad.bars.value


def test_a_preparation_error_is_told_apart_from_a_prediction_error(capsys):
    def broken(image):
        raise ZeroDivisionError("0 で割りました")

    pad = live.DigitPad(_by_position, {"壊れた前処理": broken}, save_path=None)
    pad.draw([[[100, 100], [150, 150]]])
    assert "前処理「壊れた前処理」の関数でエラーになりました: ZeroDivisionError" in pad.message.value
    assert "予測の関数" not in pad.message.value
    pad = live.DigitPad(_by_position, {"NaN": lambda image: np.full((28, 28), np.nan)}, save_path=None)
    pad.draw([[[100, 100], [150, 150]]])
    assert "NaN" in pad.message.value and pad.probabilities is None
    capsys.readouterr()


class _Model:
    """nn.Module の代わり（parameters と forward を持つ）。"""

    def parameters(self):
        return []

    def forward(self, X):
        return X

    __call__ = forward


@pytest.mark.parametrize("args, error, message", [
    ((_by_position, [live.prepare_raw]), TypeError, '{"表示名": 関数}'),
    ((_by_position, live.prepare_raw), TypeError, "名前を付けた辞書"),
    ((PREPARATIONS, _by_position), TypeError, "順番が逆"),
    ((None, PREPARATIONS), TypeError, "確率を返す関数"),
    ((_Model(), PREPARATIONS), TypeError, "モデルそのものではなく"),
    ((_by_position, {"そのまま": 3}), TypeError, "前処理「そのまま」が関数ではありません"),
    ((_by_position, {1: live.prepare_raw}), TypeError, "文字列にしてください"),
    ((_by_position, {}), ValueError, "前処理の関数を 1 つ以上"),
])
def test_wrong_arguments_name_the_expected_form(args, error, message):
    with pytest.raises(error, match=message):
        live.DigitPad(*args, save_path=None)
    with pytest.raises(TypeError, match="save_path"):
        live.DigitPad(_by_position, PREPARATIONS, save_path=3)


def test_clear_also_resets_the_label(tmp_path):
    pad = _saved_pad(tmp_path / "mine.json", label=7)
    assert pad.save()
    pad.clear()
    assert pad.label.value is None and pad.strokes == []
    pad.draw([[[100, 100], [150, 150]]])
    assert not pad.save() and "「正解:」" in pad.message.value  # 前のラベルで保存しない


# --- 終わらない関数（issue 29） ------------------------------------------------------------------

@pytest.fixture
def short_limit(monkeypatch):
    from course_utils import time_limit

    monkeypatch.setattr(time_limit, "TIME_LIMIT_S", 0.3)


def test_a_predict_or_preparation_that_never_returns_is_stopped_like_an_exercise_check(short_limit):
    import time

    def forever(*args):
        while True:
            time.sleep(0.01)

    pad = live.DigitPad(forever, PREPARATIONS)
    start = time.monotonic()
    pad.draw([[[60, 60], [200, 200]]])
    assert time.monotonic() - start < 5
    assert "予測の関数 forever を呼ぶと、0.3 秒たっても終わらないので止めました。" in pad.message.value
    assert pad.probabilities is None and pad.bars.value == ""
    pad.predict = _by_position
    pad.draw([[[60, 60], [200, 210]]])
    assert pad.probabilities is not None and pad.message.value == ""  # 部品はそのまま使える
    pad = live.DigitPad(_by_position, {"止まらない": forever})
    pad.draw([[[60, 60], [200, 200]]])
    assert "前処理「止まらない」の関数を呼ぶと、0.3 秒たっても終わらないので止めました。" in pad.message.value


def test_a_slow_camera_classify_gets_a_notice_and_is_not_stopped(short_limit, capsys):
    import time

    seen = []

    def slow(image, name):
        time.sleep(1.0)
        seen.append(camera.notice.value)

    camera = live.CameraCapture(slow)
    camera.view.photo = _data_url()
    assert len(seen) == 1 and "分類の関数 slow が、0.3 秒たってもまだ終わっていません" in seen[0]
    assert camera.notice.value == ""


def test_a_surprise_while_taking_a_photo_is_shown_in_japanese(capsys, monkeypatch):
    camera = live.CameraCapture(lambda image, name: None)
    monkeypatch.setattr(camera, "take", lambda data_url: 1 / 0)
    camera.view.photo = _data_url()
    assert "✗ 部品の中で思わぬエラーが起きました（ZeroDivisionError" in capsys.readouterr().out


def _notebook_function(source: str, name: str, **defined):
    """ノートブックのセルで def したのと同じ関数（大域変数はノートブックの変数）を作る。"""
    space = {"__name__": "__main__", **defined}
    exec(source, space)
    return space[name], space


def test_a_pad_made_before_its_model_says_to_run_the_cells_above(capsys):
    """モデルを作るセルを飛ばして部品のセルを実行した: 描く前に、足りない名前と直し方を伝える。"""
    predict, space = _notebook_function(
        "def predict(images):\n    return probabilities(model, images)\n"
        "def probabilities(m, x):\n    return torch.softmax(m(x), dim=1)\n", "predict")
    pad = live.DigitPad(predict, PREPARATIONS, save_path=None)
    assert "予測の関数 predict が使う「model」、「torch」は、まだ定義されていません" in pad.message.value
    assert "上から順に実行" in pad.message.value and "この部品のセルも実行し直して" in pad.message.value
    pad.draw([[[100, 100], [150, 150]]])  # それでも描くと、エラーに同じ直し方が付く
    assert "NameError: name 'model' is not defined → 「model」" in pad.message.value
    space["model"] = lambda x: x.reshape(len(x), -1)[:, :10]
    space["torch"] = __import__("torch")
    pad = live.DigitPad(predict, PREPARATIONS, save_path=None)  # 上のセルを実行してから作り直した
    assert pad.message.value == ""
    capsys.readouterr()


def test_a_pad_made_after_its_model_shows_no_note():
    model = object()

    def predict(images):  # 定義ずみの名前と組み込みの名前（len）だけを使う
        return _by_position(images) if model and len(images) else None

    assert live.DigitPad(predict, PREPARATIONS, save_path=None).message.value == ""
    assert live.DigitPad(lambda images: np.ones(10) / 10, PREPARATIONS, save_path=None).message.value == ""


def test_a_camera_made_before_its_model_says_so(capsys):
    classify, _ = _notebook_function("def classify(image, name):\n    show(top_k(image))\n", "classify")
    live.CameraCapture(classify)
    out = capsys.readouterr().out
    assert "分類の関数 classify が使う「show」、「top_k」は、まだ定義されていません" in out
