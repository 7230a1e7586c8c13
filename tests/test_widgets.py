"""対話的な部品の中身を、ブラウザなしで確かめる（ipywidgets 7.7 と 8 の両方で通ること）。"""

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from course_utils.setup import register_japanese_font
from course_utils.widgets import (ALL, MistakesBrowser, PredictionExplorer,
                                  class_probabilities)


@pytest.fixture(autouse=True)
def japanese_font():
    register_japanese_font()
    yield
    plt.close("all")


def test_class_probabilities_for_many_classes_and_one_logit():
    torch.manual_seed(0)
    X = torch.randn(2500, 1, 28, 28)
    ten = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    probs = class_probabilities(ten, X, batch_size=1000)  # 3 回に分けて計算する
    assert torch.allclose(probs, torch.softmax(ten(X), dim=1), atol=1e-6)
    one = nn.Sequential(nn.Flatten(), nn.Linear(784, 1), nn.Flatten(0))
    probs = class_probabilities(one, X[:5])
    p = torch.sigmoid(one(X[:5]))
    assert probs.shape == (5, 2) and torch.allclose(probs[:, 1], p) \
        and torch.allclose(probs.sum(1), torch.ones(5))


def _explorer():
    torch.manual_seed(0)
    X, y = torch.randn(20, 1, 28, 28), torch.randint(0, 10, (20,))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    return PredictionExplorer(model, X, y), model, X, y


def test_prediction_explorer_redraws_when_the_slider_moves():
    explorer, _, _, _ = _explorer()
    assert explorer.slider.max == 19
    explorer.slider.value = 7
    assert explorer.shown_index == 7


def test_prediction_explorer_figure_shows_the_model_probabilities():
    explorer, model, X, y = _explorer()
    fig = explorer.figure(3)
    bars = fig.axes[1].patches
    expected = torch.softmax(model(X[3:4]), dim=1)[0] * 100
    assert [round(b.get_height(), 3) for b in bars] == \
        [round(v, 3) for v in expected.tolist()]
    predicted = int(expected.argmax())
    colour = "tab:green" if predicted == int(y[3]) else "tab:red"
    assert bars[predicted].get_facecolor() == plt.matplotlib.colors.to_rgba(colour)
    assert f"正解 {int(y[3])}" in fig.axes[0].get_title()


def _browser(per_page=2):
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    y_pred = torch.tensor([1, 1, 0, 2, 0, 2, 1, 0])  # 間違いは 0,2,3,4,6,7 番
    images = torch.zeros(8, 28, 28)
    return MistakesBrowser(images, y, y_pred, class_names=["ア", "イ", "ウ"], per_page=per_page)


def test_mistakes_browser_filters_by_true_and_predicted_class():
    browser = _browser()
    assert browser.selected().tolist() == [0, 2, 3, 4, 6, 7]
    browser.true_filter.value = 0
    assert browser.selected().tolist() == [0, 3, 6]
    browser.pred_filter.value = 1
    assert browser.selected().tolist() == [0, 6]
    browser.true_filter.value = 2
    browser.pred_filter.value = 1
    assert browser.selected().tolist() == []
    assert browser.status.value == "この組み合わせの間違いはありません"


def test_mistakes_browser_pages_forward_and_back_within_range():
    browser = _browser(per_page=2)
    browser.go_to(0)
    assert browser.pages() == 3 and browser.previous.disabled
    assert browser.status.value == "6 枚中 1〜2 枚目"
    for _ in range(5):  # 最後のページより先には進まない
        browser.next.click()
    assert browser.page == 2 and browser.next.disabled
    assert browser.status.value == "6 枚中 5〜6 枚目"
    browser.previous.click()
    assert browser.page == 1
    browser.true_filter.value = 1  # 絞り込みを変えると最初のページに戻る
    assert browser.page == 0 and browser.status.value == "2 枚中 1〜2 枚目"
    browser.true_filter.value = ALL
    assert len(browser.selected()) == 6


def _png(image):
    import io

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_uploaded_files_reads_both_ipywidgets_formats():
    from course_utils.widgets import uploaded_files

    v7 = {"a.png": {"metadata": {"name": "a.png"}, "content": b"123"}}
    v8 = ({"name": "b.png", "type": "image/png", "size": 3, "content": memoryview(b"456")},)
    assert uploaded_files(v7) == [("a.png", b"123")]
    assert uploaded_files(v8) == [("b.png", b"456")]
    assert uploaded_files({}) == [] and uploaded_files(()) == []


def test_photo_uploader_converts_photos_and_explains_bad_files(tmp_path, capsys):
    from PIL import Image

    from course_utils.widgets import PhotoUploader

    seen = []
    uploader = PhotoUploader(lambda image, name: seen.append((image.mode, image.size, name)))
    uploader.run(_png(Image.new("LA", (20, 10))), "gray.png")
    uploader.run(b"%PDF-1.4 not an image", "paper.pdf")
    path = tmp_path / "photo.png"
    Image.new("RGB", (8, 6)).save(path)
    uploader.path.value = f"  {path}  "
    uploader.button.click()
    uploader.run("")
    out = capsys.readouterr().out
    assert seen == [("RGB", (20, 10), "gray.png"), ("RGB", (8, 6), "photo.png")]
    assert "透明な部分を白で" in out
    assert "✗ paper.pdf は画像として読めません" in out
    assert "ファイル名を入力してください" in out


def test_photo_uploader_reacts_to_an_upload():
    from PIL import Image

    from course_utils.widgets import PhotoUploader

    seen = []
    uploader = PhotoUploader(lambda image, name: seen.append(name))
    uploader._on_upload({"new": {"c.png": {"metadata": {}, "content": _png(Image.new("RGB", (4, 4)))}}})
    uploader._on_upload({"new": ({"name": "d.png", "content": memoryview(_png(Image.new("RGB", (4, 4))))},)})
    uploader._on_upload({"new": ()})
    assert seen == ["c.png", "d.png"]


def test_photo_uploader_explains_an_upload_that_never_arrived(capsys):
    from course_utils.widgets import PhotoUploader

    uploader = PhotoUploader(lambda image, name: pytest.fail("中身がないのに呼ばれた"))
    uploader._on_counter({"new": 1})  # ipywidgets 7 の Colab: 数は増えたが value が空
    assert "中身が届きませんでした" in capsys.readouterr().out


def test_photo_uploader_says_an_empty_upload_is_empty_not_asks_for_a_name(capsys):
    """0 バイトのファイルをアップロードしたら「空のファイル」と伝える（ファイル名を頼まない）。"""
    from course_utils.widgets import PhotoUploader, uploaded_files

    uploader = PhotoUploader(lambda image, name: pytest.fail("空なのに呼ばれた"))
    assert uploaded_files(({"name": "empty.jpg", "content": memoryview(b"")},)) == [("empty.jpg", b"")]
    uploader._on_upload({"new": ({"name": "empty.jpg", "type": "image/jpeg", "size": 0,
                                  "content": memoryview(b"")},)})  # ipywidgets 8
    out = capsys.readouterr().out
    assert "✗ empty.jpg は空のファイル（0 バイト）で、中身がありません" in out
    assert "ファイル名を入力してください" not in out
    uploader._on_upload({"new": {"e.png": {"metadata": {}, "content": b""}}})  # ipywidgets 7
    assert "✗ e.png は空のファイル（0 バイト）" in capsys.readouterr().out
    uploader.run(b"")
    assert "✗ アップロードしたファイル は空のファイル（0 バイト）" in capsys.readouterr().out


def test_uploaded_files_tolerates_missing_values():
    from course_utils.widgets import uploaded_files

    assert uploaded_files(None) == []
    assert uploaded_files(({"content": b"1"},)) == [("アップロードしたファイル", b"1")]


@pytest.mark.parametrize("typed, expected", [
    ("https://example.com/cat.jpg", "✗ https://example.com/cat.jpg はインターネットの URL です。"
                                    "この教材は URL から画像をダウンロードしません。"),
    ("a" * 296 + ".jpg", "✗ ファイル名が長すぎます（300 文字）"),
    ("~photo.jpg", "「~」を付けずに"),
    ("data:image/png;base64,iVBORw0KGgo!!!", "✗ 貼り付けられた data: URL の中身が途中で切れているか壊れていて"),
])
def test_photo_uploader_explains_typed_names_in_japanese(typed, expected, tmp_path, monkeypatch, capsys):
    from course_utils.widgets import PhotoUploader

    monkeypatch.chdir(tmp_path)
    uploader = PhotoUploader(lambda image, name: pytest.fail("使えないのに呼ばれた"))
    uploader.path.value = typed
    uploader.button.click()
    out = capsys.readouterr().out
    assert expected in out and "Errno" not in out and "Traceback" not in out


def test_photo_uploader_opens_a_pasted_data_url_with_a_short_name(capsys):
    import base64

    from PIL import Image

    from course_utils.images import DATA_URL_NAME
    from course_utils.widgets import PhotoUploader

    seen = []
    uploader = PhotoUploader(lambda image, name: seen.append((image.size, name)))
    uploader.path.value = "data:image/png;base64," + base64.b64encode(_png(Image.new("RGB", (5, 3)))).decode()
    uploader.button.click()
    assert seen == [((5, 3), DATA_URL_NAME)]
    assert "data: URL" in capsys.readouterr().out
