"""対話的な部品の中身を、ブラウザなしで確かめる（ipywidgets 7.7 と 8 の両方で通ること）。"""

import functools

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
    from course_utils.photos import uploaded_files

    v7 = {"a.png": {"metadata": {"name": "a.png"}, "content": b"123"}}
    v8 = ({"name": "b.png", "type": "image/png", "size": 3, "content": memoryview(b"456")},)
    assert uploaded_files(v7) == [("a.png", b"123")]
    assert uploaded_files(v8) == [("b.png", b"456")]
    assert uploaded_files({}) == [] and uploaded_files(()) == []


def test_photo_uploader_converts_photos_and_explains_bad_files(tmp_path, capsys):
    from PIL import Image

    from course_utils.photos import PhotoUploader

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

    from course_utils.photos import PhotoUploader

    seen = []
    uploader = PhotoUploader(lambda image, name: seen.append(name))
    uploader._on_upload({"new": {"c.png": {"metadata": {}, "content": _png(Image.new("RGB", (4, 4)))}}})
    uploader._on_upload({"new": ({"name": "d.png", "content": memoryview(_png(Image.new("RGB", (4, 4))))},)})
    uploader._on_upload({"new": ()})
    assert seen == ["c.png", "d.png"]


def test_photo_uploader_explains_an_upload_that_never_arrived(capsys):
    from course_utils.photos import PhotoUploader

    uploader = PhotoUploader(lambda image, name: pytest.fail("中身がないのに呼ばれた"))
    uploader._on_counter({"new": 1})  # ipywidgets 7 の Colab: 数は増えたが value が空
    assert "中身が届きませんでした" in capsys.readouterr().out


def test_photo_uploader_says_an_empty_upload_is_empty_not_asks_for_a_name(capsys):
    """0 バイトのファイルをアップロードしたら「空のファイル」と伝える（ファイル名を頼まない）。"""
    from course_utils.photos import PhotoUploader, uploaded_files

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
    assert "✗ アップロードしたファイルは空のファイル（0 バイト）" in capsys.readouterr().out


def test_uploaded_files_tolerates_missing_values():
    from course_utils.photos import uploaded_files

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
    from course_utils.photos import PhotoUploader

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
    from course_utils.photos import PhotoUploader

    seen = []
    uploader = PhotoUploader(lambda image, name: seen.append((image.size, name)))
    uploader.path.value = "data:image/png;base64," + base64.b64encode(_png(Image.new("RGB", (5, 3)))).decode()
    uploader.button.click()
    assert seen == [((5, 3), DATA_URL_NAME)]
    assert "data: URL" in capsys.readouterr().out


# --- OwnClassesTrainer（08: 自分のクラスの写真で学習して分類する） -------------------------------

def _square(colour, size=(12, 10), fmt="PNG"):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


class _NearestMeanColour:
    """テスト用の学習と分類: クラスごとの平均の色を覚え、いちばん近い色のクラスを答える。"""

    def __init__(self):
        self.received, self.classified = [], []

    def train(self, photos):
        import numpy as np

        self.received.append({name: [(file, image.mode, image.size) for file, image in items]
                              for name, items in photos.items()})
        return {name: np.mean([np.asarray(image, float).reshape(-1, 3).mean(0) for _, image in items], 0)
                for name, items in photos.items()}

    def classify(self, classifier, image, name):
        import numpy as np

        colour = np.asarray(image, float).reshape(-1, 3).mean(0)
        best = min(classifier, key=lambda k: float(((classifier[k] - colour) ** 2).sum()))
        self.classified.append((id(classifier), name, best))
        print(f"分類の結果: {name} は「{best}」")


def _trainer(**kwargs):
    from course_utils.own_classes import OwnClassesTrainer

    fake = _NearestMeanColour()
    return OwnClassesTrainer(fake.train, fake.classify, **kwargs), fake


def _photo_folder(path, colour, count, fmt="PNG"):
    path.mkdir()
    for i in range(count):
        (path / f"{colour}_{i}.{fmt.lower()}").write_bytes(_square(colour, fmt=fmt))
    return path


def _hashes(folder):
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def test_own_classes_prints_nothing_when_built(capsys):
    trainer, _ = _trainer()
    assert trainer.output.outputs == () and capsys.readouterr().out == ""
    assert len(trainer.names) == len(trainer.uploads) == len(trainer.paths) == 3
    assert [t.placeholder for t in trainer.names] == ["例: ねこ", "例: いぬ", "例: うさぎ"]
    assert all(u.accept == "image/*" and u.multiple for u in trainer.uploads)
    assert [c.value for c in trainer.counts] == ["0 枚"] * 3
    assert trainer.train_button.description == "学習する"
    with pytest.raises(ValueError):
        _trainer(max_classes=1)


def test_own_classes_trains_on_the_photos_in_row_order_and_classifies_with_the_result(tmp_path, capsys):
    trainer, fake = _trainer()
    red = _photo_folder(tmp_path / "red", "red", 2)
    assert trainer.set_class(0, "  あか ", [red, ("red_x.jpg", _square("red", fmt="JPEG"))]) == 3
    assert trainer.set_class(2, "あお", [("b1.png", _square("blue")), ("b2.png", _square("blue")),
                                        str(tmp_path / "red" / "red_0.png")]) == 3
    assert trainer.counts[0].value == "3 枚"
    assert trainer.train_now() is True
    out = capsys.readouterr().out
    assert "学習しています（2 クラス、計 6 枚）" in out and "✓ 学習しました" in out
    assert fake.received == [{
        "あか": [("red_0.png", "RGB", (12, 10)), ("red_1.png", "RGB", (12, 10)),
                ("red_x.jpg", "RGB", (12, 10))],
        "あお": [("b1.png", "RGB", (12, 10)), ("b2.png", "RGB", (12, 10)),
                ("red_0.png", "RGB", (12, 10))]}]
    assert list(fake.received[0]) == ["あか", "あお"]  # 行の順
    assert trainer.classify_source(_square((250, 10, 10)), "test.png") is True
    assert trainer.classify_source(_square((0, 0, 240), fmt="JPEG"), "test2.jpg") is True
    assert [(name, best) for _, name, best in fake.classified] == \
        [("test.png", "あか"), ("test2.jpg", "あお")]
    assert {obj for obj, _, _ in fake.classified} == {id(trainer.classifier)}
    assert "分類の結果: test.png は「あか」" in capsys.readouterr().out


def test_own_classes_explains_too_few_photos_and_too_few_classes(capsys):
    trainer, fake = _trainer(min_photos=3)
    trainer.set_class(0, "ねこ", [("n1.png", _square("red")), ("n2.png", _square("red")),
                                  ("memo.txt", b"just text")])
    assert trainer.train_now() is False and fake.received == []
    out = capsys.readouterr().out
    assert "✗ クラス「ねこ」の写真は 2 枚です（使えないファイル 1 個は数えていません）。" \
           "学習には 1 クラスに 3 枚以上が必要です（あと 1 枚）。" in out
    assert "写真が多いほど" in out and "分類は安定します" in out
    assert "✗ memo.txt は画像として読めません（文字だけのテキストファイルです）" in out
    assert "✗ 学習には、名前と写真のそろったクラスが 2 つ以上必要です（今は 1 つです）" in out
    assert trainer.counts[0].value == "2 枚（使えないファイル 1 個）"
    empty, _ = _trainer()
    assert empty.train_now() is False
    assert "2 つ以上必要です（今はまだありません）" in capsys.readouterr().out


def test_own_classes_explains_duplicate_and_missing_class_names(capsys):
    trainer, fake = _trainer(min_photos=1)
    trainer.set_class(0, "Cat", [_square("red")])
    trainer.set_class(1, "ｃａｔ", [_square("blue")])  # 全角・小文字でも同じ名前
    trainer.set_class(2, "", [("dog.png", _square("green"))])
    assert trainer.train_now() is False and fake.received == []
    out = capsys.readouterr().out
    assert "✗ 1 行目と 2 行目のクラス名「Cat」と「ｃａｔ」が同じです" in out
    assert "✗ 3 行目に写真（ファイル 1 個）がありますが、クラス名が空です。" in out
    assert "2 つ以上必要" not in out  # 重複の説明だけで足りる
    trainer.set_class(1, "Cat", [_square("blue")])
    trainer.train_now()
    assert "✗ 1 行目と 2 行目のクラス名「Cat」が同じです" in capsys.readouterr().out


def test_own_classes_refuses_to_classify_before_training_and_after_changes(tmp_path, capsys):
    trainer, fake = _trainer(min_photos=1)
    assert trainer.classify_source(_square("red")) is False
    assert "✗ まだ学習していません。先に、クラスごとに写真を集めて「学習する」を押してください。" \
        in capsys.readouterr().out
    folder = _photo_folder(tmp_path / "red", "red", 1)
    trainer.set_class(0, "あか", folder)
    trainer.set_class(1, "あお", [_square("blue")])
    assert trainer.train_now()
    (folder / "red_9.png").write_bytes(_square("red"))  # 学習のあとでフォルダに写真を足した
    capsys.readouterr()
    assert trainer.classify_source(_square("red")) is False
    assert "✗ 学習したあとで、クラスの名前か写真が変わりました（変わったクラス: 「あか」）。" \
           "今の分類器は前の写真で学習したものです。もう一度「学習する」を押してから" \
           "分類してください。" in capsys.readouterr().out
    assert trainer.train_now() and len(fake.received[-1]["あか"]) == 2
    trainer.names[1].value = "みどり"  # 名前を変えても学習し直しを頼む
    assert trainer.classify_source(_square("red")) is False
    assert "（変わったクラス: 「あお」「みどり」）" in capsys.readouterr().out
    trainer.names[1].value = "あお"  # 学習したときと同じに戻せば、そのまま使える
    assert trainer.classify_source(_square("red"), "r.png") is True
    assert "分類の結果: r.png は「あか」" in capsys.readouterr().out


def test_own_classes_reads_folders_skips_broken_files_with_reasons_and_changes_nothing(tmp_path, capsys):
    red = _photo_folder(tmp_path / "red", "red", 3)
    (red / "broken.jpg").write_bytes(_square("red", fmt="JPEG")[:40])  # 途中で切れた JPEG
    (red / "empty.png").write_bytes(b"")
    (red / "notes.pdf").write_bytes(b"%PDF-1.4 not a photo")
    (red / "sub").mkdir()
    (red / "sub" / "red_in_sub.png").write_bytes(_square("red"))
    (red / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    blue = _photo_folder(tmp_path / "blue", "blue", 3)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("hello")
    (tmp_path / "nothing").mkdir()
    before = _hashes(tmp_path)
    trainer, fake = _trainer()
    trainer.names[0].value, trainer.paths[0].value = "あか", f" {red} "
    out = capsys.readouterr().out  # 欄に入れる（Enter）と、その行の結果が出る
    assert "1 行目「あか」: 使える写真 3 枚" in out
    assert "✗ broken.jpg は画像ファイルが途中で切れていて" in out
    assert "✗ empty.png は空のファイル（0 バイト）" in out
    assert "✗ notes.pdf は画像として読めません（PDF ファイルです）" in out
    assert "・フォルダ" in out and "の中のフォルダ sub は見ません" in out
    assert ".DS_Store" not in out
    assert trainer.counts[0].value == "3 枚（使えないファイル 3 個）"
    trainer.names[1].value, trainer.paths[1].value = "あお", f"{blue}, {tmp_path / 'nothing'}、{texts}"
    out = capsys.readouterr().out
    assert f"✗ フォルダ {tmp_path / 'nothing'} には、写真のファイルがありません" in out
    assert f"✗ フォルダ {texts} の 1 個のファイルは、どれも画像として使えませんでした" in out
    trainer.train_button.click()
    out = capsys.readouterr().out
    assert "1 行目「あか」: 3 枚" in out and "2 行目「あお」: 3 枚" in out and "✓ 学習しました" in out
    assert [file for file, _, _ in fake.received[0]["あか"]] == ["red_0.png", "red_1.png", "red_2.png"]
    assert trainer.train_button.description == "学習する" and not trainer.train_button.disabled
    trainer.path.value = str(blue / "blue_1.png")
    trainer.button.click()
    assert "分類の結果: blue_1.png は「あお」" in capsys.readouterr().out
    assert _hashes(tmp_path) == before  # 読むだけで、書き換えも削除もしない


def _upload_value(version, files):
    """FileUpload の value を、ipywidgets 7（辞書）と 8（タプル）の形で作る。"""
    if version == 7:
        return {name: {"metadata": {"name": name}, "content": data} for name, data in files}
    return tuple({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data)}
                 for name, data in files)


@pytest.mark.parametrize("version", [7, 8])
def test_own_classes_takes_uploads_in_both_ipywidgets_formats(version, capsys):
    value = functools.partial(_upload_value, version)

    trainer, fake = _trainer()
    trainer.names[0].value, trainer.names[1].value = "あか", "あお"
    trainer._on_row_upload(0, {"new": value([(f"r{i}.png", _square("red")) for i in range(3)]
                                            + [("zero.png", b"")])})
    out = capsys.readouterr().out
    assert "1 行目「あか」: 使える写真 3 枚" in out and "✗ zero.png は空のファイル（0 バイト）" in out
    trainer._on_row_upload(1, {"new": value([(f"b{i}.png", _square("blue")) for i in range(2)])})
    trainer._on_row_counter(1, {"old": 0, "new": 3})  # 7.x の Colab: 3 個選んで 2 個だけ届いた
    out = capsys.readouterr().out
    assert "✗ 2 行目で選んだファイルのうち 1 個の中身が届きませんでした（Colab では 1 MB 前後" in out
    assert "/content/inu" in out
    trainer._on_row_counter(0, {"old": 0, "new": 4})  # 全部届いていれば何も言わない
    assert capsys.readouterr().out == ""
    trainer._on_row_upload(1, {"new": value([(f"b{i}.png", _square("blue")) for i in range(3)])})
    assert trainer.train_now()
    assert [f for f, _, _ in fake.received[0]["あか"]] == ["r0.png", "r1.png", "r2.png"]
    capsys.readouterr()
    trainer._on_upload({"new": value([("q.png", _square((0, 10, 200)))])})
    assert "分類の結果: q.png は「あお」" in capsys.readouterr().out
    trainer._on_upload({"new": value([("e.png", b"")])})
    assert "✗ e.png は空のファイル（0 バイト）" in capsys.readouterr().out
    trainer._on_counter({"old": 1, "new": 2})  # 分類する写真の中身が届かなかった
    assert "✗ ファイルを選びましたが、中身が届きませんでした" in capsys.readouterr().out
    trainer.path.value = "  "
    trainer.button.click()  # 欄が空なら、最後に選んだ写真（ここでは空の e.png）をもう一度分類する
    assert "✗ e.png は空のファイル（0 バイト）" in capsys.readouterr().out
    assert trainer.classify_source("  ") is False
    assert "分類する写真のファイル名を入れてください" in capsys.readouterr().out


def test_own_classes_shows_errors_raised_by_the_notebook_functions(capsys):
    from course_utils.own_classes import OwnClassesTrainer

    def train(photos):
        raise RuntimeError("特徴量の形が合いません")

    def classify(classifier, image, name):
        return {}["ねこ"]

    trainer = OwnClassesTrainer(train, classify, min_photos=1)
    trainer.set_class(0, "あか", [_square("red")])
    trainer.set_class(1, "あお", [_square("blue")])
    assert trainer.train_now() is False
    out = capsys.readouterr().out
    assert "✗ 学習の関数 train の中でエラーが起きました: RuntimeError: 特徴量の形が合いません" in out
    assert "Traceback (most recent call last)" in out and 'raise RuntimeError("特徴量の形' in out
    trainer.train = lambda photos: None
    assert trainer.train_now() is False
    assert "が None を返しました。学習した分類器を return で返してください。" in capsys.readouterr().out
    trainer.train = lambda photos: "分類器"
    assert trainer.train_now() is True
    assert trainer.classify_source(_square("red"), "x.png") is False
    out = capsys.readouterr().out
    assert "✗ 分類の関数 classify の中でエラーが起きました: KeyError: 'ねこ'" in out
    assert 'return {}["ねこ"]' in out


def test_own_classes_reacts_to_the_real_upload_widgets(capsys):
    """その版の ipywidgets の FileUpload に値が入ったときの流れ（7.x は _counter、8.x は value）。"""
    from datetime import datetime, timezone

    trainer, fake = _trainer(min_photos=2)

    def choose(upload, files):
        if "_counter" in upload.trait_names():  # 7.x: ブラウザは metadata・data・_counter を送る
            upload.set_trait("metadata", [{"name": name} for name, data in files if data is not None])
            upload.set_trait("data", [data for _, data in files if data is not None])
            upload._counter += len(files)
        else:  # 8.x: 届いたファイルだけが value に入る
            upload.value = tuple({"name": name, "type": "image/png", "size": len(data),
                                  "last_modified": datetime.now(timezone.utc),
                                  "content": memoryview(data)}
                                 for name, data in files if data is not None)

    trainer.names[0].value, trainer.names[1].value = "あか", "あお"
    choose(trainer.uploads[0], [("r1.png", _square("red")), ("r2.png", _square("red"))])
    choose(trainer.uploads[1], [("b1.png", _square("blue")), ("b2.png", _square("blue"))])
    assert [c.value for c in trainer.counts] == ["2 枚", "2 枚", "0 枚"]
    trainer.train_button.click()
    assert "✓ 学習しました" in capsys.readouterr().out
    choose(trainer.upload, [("q.png", _square("blue"))])
    assert "分類の結果: q.png は「あお」" in capsys.readouterr().out
    if "_counter" in trainer.uploads[0].trait_names():  # Colab の 7.7.1: 大きな写真の中身が落ちる
        choose(trainer.uploads[0], [("big.jpg", None), ("r3.png", _square("red"))])
        assert "1 個の中身が届きませんでした" in capsys.readouterr().out
        choose(trainer.upload, [("big.jpg", None)])
        assert "✗ ファイルを選びましたが、中身が届きませんでした" in capsys.readouterr().out


# --- 入っているのに壊れた ipywidgets・anywidget（issue 29） ----------------------------------------

BROKEN_INSTALL = """
import importlib.abc, importlib.machinery, sys

class Broken(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    '''見つかる（入っている）のに、読み込むと版の食い違いで AttributeError になるパッケージ。'''
    def find_spec(self, name, path=None, target=None):
        if name in BROKEN:
            return importlib.machinery.ModuleSpec(name, self)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        raise AttributeError("module 'traitlets' has no attribute 'Sentinel'")

BROKEN = {broken!r}
sys.meta_path.insert(0, Broken())
from course_utils import live, photos, widgets, training  # import は止まらない
import torch
X, y = torch.zeros(3, 1, 28, 28), torch.zeros(3, dtype=torch.long)
made = [live.DigitPad(lambda images: images, {{"そのまま": lambda image: image}}),
        live.CameraCapture(lambda image, name: None)]
if "ipywidgets" in BROKEN:
    made += [photos.PhotoUploader(lambda image, name: None), widgets.PredictionExplorer(torch.nn.Flatten(), X, y)]
for part in made:
    part._ipython_display_()
print(made[0].draw([[[1, 2], [3, 4]]]))
"""


@pytest.mark.parametrize("broken", [("anywidget",), ("ipywidgets", "anywidget")])
def test_a_broken_install_does_not_break_the_lesson(broken):
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, "-c", BROKEN_INSTALL.format(broken=broken)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "None"  # 部品のメソッドは何もしない
    shown = lines[:-1]
    assert len(shown) == (4 if "ipywidgets" in broken else 2)
    for line in shown:
        assert "は入っていますが、読み込むとエラーになります（AttributeError: module 'traitlets'" in line
        assert "pip install -U" in line and "ほかのセルはそのまま実行できます" in line
    needed = " と ".join(broken)
    assert shown[0].startswith(f"この部品（DigitPad）を表示するには {needed} が必要です。{broken[0]} は入っていますが")


STAND_IN = """
import torch
from course_utils import live, photos, widgets  # import は止まらない
X, y = torch.zeros(3, 1, 28, 28), torch.zeros(3, dtype=torch.long)
made = [live.DigitPad(lambda images: images, {"そのまま": lambda image: image}),
        live.CameraCapture(lambda image, name: None), photos.PhotoUploader(lambda image, name: None),
        widgets.PredictionExplorer(torch.nn.Flatten(), X, y)]
for part in made:
    part._ipython_display_()
print(made[0].draw([[[1, 2], [3, 4]]]))
"""


@pytest.mark.parametrize("stand_ins", [("anywidget",), ("ipywidgets", "anywidget")])
def test_a_package_without_what_the_course_uses_falls_back_in_japanese(stand_ins, tmp_path):
    """import はできるのに AnyWidget や ipywidgets.HBox がない（版が古い・作業フォルダに同じ名前の
    ファイルがある）ときも、英語の AttributeError ではなく日本語の案内を出す（issue 29）。"""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    for name in stand_ins:  # 中身が空の、同じ名前のモジュール
        (tmp_path / f"{name}.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run([sys.executable, "-c", STAND_IN], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "None"  # 部品のメソッドは何もしない
    shown = [line for line in lines if line.startswith("この部品")]  # 使える部品は、そのまま表示される
    assert len(shown) == (4 if "ipywidgets" in stand_ins else 2)
    for line in shown:
        assert "は入っていますが、読み込むとエラーになります（AttributeError:" in line
        assert "講座が使う" in line and str(tmp_path) in line
        assert "ほかのセルはそのまま実行できます" in line
    assert "anywidget に、講座が使う AnyWidget がありません" in shown[0]
    if "ipywidgets" in stand_ins:
        assert "ipywidgets に、講座が使う Button, Dropdown, HBox" in shown[0]


# --- ブラウザの操作のエラー・終わらない関数・プログラムからの写真・写真を加える（issue 29） -------------

def test_photo_uploader_shows_an_error_raised_by_classify(capsys):
    from PIL import Image

    from course_utils.photos import PhotoUploader

    def broken(image, name):
        return {}["ねこ"]

    uploader = PhotoUploader(broken)
    uploader._on_upload({"new": ({"name": "a.png", "content": memoryview(_png(Image.new("RGB", (4, 4))))},)})
    out = capsys.readouterr().out
    assert "✗ 分類の関数 broken の中でエラーが起きました: KeyError: 'ねこ'" in out
    assert 'return {}["ねこ"]' in out
    uploader.run(_png(Image.new("RGB", (4, 4))), "b.png")  # コードから呼んでも同じ
    assert "✗ 分類の関数 broken の中でエラーが起きました" in capsys.readouterr().out
    uploader.classify = lambda image, name: print(f"分類しました: {name}")
    uploader._on_upload({"new": ({"name": "c.png", "content": memoryview(_png(Image.new("RGB", (4, 4))))},)})
    assert "分類しました: c.png" in capsys.readouterr().out  # 部品はそのまま使える


def test_browser_events_report_surprises_and_interrupts_in_japanese(capsys):
    trainer, _ = _trainer()

    def surprise():
        raise OSError("disk gone")

    def interrupted():
        raise KeyboardInterrupt

    trainer._in_output(surprise)
    assert "✗ 部品の中で思わぬエラーが起きました（OSError: disk gone）" in capsys.readouterr().out
    trainer._in_output(interrupted)
    assert "✗ 中断しました（■ か Kernel → Interrupt が押されました）" in capsys.readouterr().out


@pytest.fixture
def short_limit(monkeypatch):
    from course_utils import time_limit

    monkeypatch.setattr(time_limit, "TIME_LIMIT_S", 0.3)


def _trained(trainer):
    trainer.set_class(0, "あか", [_square("red")] * 3)
    trainer.set_class(1, "あお", [_square("blue"), _square((0, 0, 250)), _square((0, 0, 240))])
    assert trainer.train_now()


def test_a_classify_that_never_returns_is_stopped_like_an_exercise_check(short_limit, capsys):
    import time

    trainer, fake = _trainer()
    _trained(trainer)
    capsys.readouterr()

    def forever(classifier, image, name):
        while True:
            time.sleep(0.01)

    trainer.classify = forever
    start = time.monotonic()
    assert trainer.classify_source(_square("red"), "x.png") is False
    assert time.monotonic() - start < 5
    out = capsys.readouterr().out
    assert "✗ 分類の関数 forever を呼ぶと、0.3 秒たっても終わらないので止めました。終わらないループ" in out
    trainer.classify = fake.classify
    assert trainer.classify_source(_square("red"), "y.png") is True  # 部品はそのまま使える


def test_a_slow_training_gets_a_notice_and_is_not_stopped(short_limit, capsys):
    import time

    trainer, fake = _trainer()
    seen = []

    def slow_train(photos):
        time.sleep(1.0)
        seen.append(trainer.notice.value)
        return fake.train(photos)

    trainer.train = slow_train
    _trained(trainer)
    assert "学習の関数 slow_train が、0.3 秒たってもまだ終わっていません。このまま待ちます" in seen[0]
    assert "■（メニューの Kernel → Interrupt）" in seen[0]
    assert trainer.notice.value == ""  # 終わったら消える
    out = capsys.readouterr().out
    assert "✓ 学習しました（学習の関数 slow_train 全体で 1." in out


def test_set_class_takes_numbers_images_and_arrays_and_explains_the_rest():
    import numpy as np
    from PIL import Image

    trainer, fake = _trainer()
    red = np.zeros((10, 12, 3), np.uint8)
    red[..., 0] = 250
    assert trainer.set_class(0, 1, [Image.new("RGB", (12, 10), "red"), red, red / 255.0]) == 3
    assert trainer.names[0].value == "1"
    assert trainer.set_class(np.int64(1), 2.5, np.zeros((8, 8))) == 1  # 配列 1 つは写真 1 枚（行ごとではない）
    assert trainer.set_class(1, "あお", [Image.new("L", (5, 5), 200), Image.new("RGBA", (5, 5))] * 2) == 4
    assert trainer.train_now()
    assert [f for f, _, _ in fake.received[0]["1"]] == ["1 行目の渡された画像 1", "1 行目の渡された画像 2",
                                                  "1 行目の渡された画像 3"]
    with pytest.raises(TypeError, match="行の番号は 0〜2 の整数で渡してください（渡されたもの: '0'、str）"):
        trainer.set_class("0", "ねこ")
    with pytest.raises(TypeError, match="行の番号とクラス名が逆のようです"):
        trainer.set_class("ねこ", 0)
    with pytest.raises(TypeError, match="クラス名は文字列で渡してください"):
        trainer.set_class(0, ["ねこ"])
    with pytest.raises(IndexError, match="行の番号は 0〜2 です"):
        trainer.set_class(3, "ねこ")
    bad_arrays = [np.zeros((2, 8, 8, 3)), np.full((4, 4), np.nan), np.zeros((4, 4), complex)]
    assert trainer.set_class(2, "だめ", bad_arrays) == 0
    trainer._collect()
    _, notes, bad = trainer._read_row(2)
    assert bad == 3
    assert "形 (2, 8, 8, 3) の配列は、写真 1 枚として使えません" in notes[0]
    assert "NaN" in notes[1] and "数でない配列" in notes[2]


@pytest.mark.parametrize("version", [7, 8])
def test_choosing_photos_again_adds_them_and_the_clear_button_starts_over(version, capsys):
    value = functools.partial(_upload_value, version)

    trainer, fake = _trainer()
    trainer.names[0].value = "あか"
    trainer._on_row_upload(0, {"new": value([("r1.png", _square("red"))])})
    out = capsys.readouterr().out
    assert "1 行目「あか」: 使える写真 1 枚（いま選んだ 1 個を加えました）" in out
    assert "「写真を選ぶ」をくり返すと、写真が加わります" in out and "このクラスの写真を消す" in out
    trainer._on_row_upload(0, {"new": value([("r2.png", _square((240, 0, 0))), ("r1.png", _square("red"))])})
    out = capsys.readouterr().out
    assert "使える写真 2 枚（いま選んだ 1 個を加えました）" in out
    assert "・r1.png は、もう入っているので加えませんでした。" in out
    assert trainer.counts[0].value == "2 枚"
    assert trainer.clears[0].description == "このクラスの写真を消す"
    trainer.paths[0].value = "/nowhere/red"
    capsys.readouterr()
    trainer.clears[0].click()
    out = capsys.readouterr().out
    assert "1 行目「あか」: 使える写真 0 枚" in out and "✓ 1 行目の写真を消しました" in out
    assert trainer.paths[0].value == "" and trainer.counts[0].value == "0 枚"
    assert trainer.names[0].value == "あか"  # 名前は残す


def test_the_classify_button_classifies_the_chosen_photo(capsys):
    trainer, fake = _trainer()
    capsys.readouterr()
    trainer.button.click()
    assert "✗ まだ学習していません" in capsys.readouterr().out
    _trained(trainer)
    trainer.button.click()
    assert "✗ 分類する写真を「写真を選ぶ」で選ぶか、ファイル名を欄に入れてから押してください" in \
        capsys.readouterr().out
    trainer.path.value = "/old/typed.jpg"
    trainer._on_upload({"new": ({"name": "q.png", "content": memoryview(_square((0, 10, 200)))},)})
    assert "分類の結果: q.png は「あお」" in capsys.readouterr().out
    assert trainer.path.value == ""  # 古いファイル名は使わない
    trainer.button.click()  # 選んだ写真をもう一度分類する（消さない）
    assert "分類の結果: q.png は「あお」" in capsys.readouterr().out
    assert [name for _, name, _ in fake.classified] == ["q.png", "q.png"]


def test_photo_widgets_made_before_their_models_say_to_run_the_cells_above(capsys):
    """07/08 で、モデルを読み込むセルを飛ばしてから部品を作った: 写真を選ぶ前に知らせ、選んでもヒントを出す。"""
    from PIL import Image

    from course_utils.own_classes import OwnClassesTrainer
    from course_utils.photos import PhotoUploader

    space = {"__name__": "__main__"}
    exec("def classify_photo(image, name):\n    return top_k(loaded, image)\n"
         "def train(photos):\n    return fit_head(features(photos))\n"
         "def classify(classifier, image, name):\n    return classifier(image)\n", space)
    uploader = PhotoUploader(space["classify_photo"])
    out = capsys.readouterr().out
    assert "分類の関数 classify_photo が使う「top_k」、「loaded」は、まだ定義されていません" in out
    uploader.run(_png(Image.new("RGB", (8, 8))), "cat.png")
    out = capsys.readouterr().out
    assert "NameError" in out and "→ 「top_k」" in out  # 呼んだときのエラーにも直し方が付く
    OwnClassesTrainer(space["train"], space["classify"])
    out = capsys.readouterr().out
    assert "学習の関数 train が使う「fit_head」、「features」" in out and "分類の関数 classify" not in out
