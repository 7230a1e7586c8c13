"""本物のブラウザ（ヘッドレスの Chromium）で JupyterLab を開き、ノートブックを実行して画面を確かめる。

05: エラーの出力がないこと、ipywidgets の部品が描かれたこと、図が描かれたこと、日本語フォントが
登録されたことを、ページの中身で確かめる。08 の OwnClassesTrainer: 写真を選び、クラス名を入れ、
「学習する」を押し、新しい写真の分類の結果が出ることを、学習者と同じ操作で確かめる。
04・06 の DigitPad: マウスで数字を描き、予測のクラスが出ることと「消す」を確かめる。
07 の CameraCapture: Chromium の偽のカメラ（--use-fake-device-for-media-stream）で撮影して画像が
分類の関数に届くこと、カメラがないときに日本語の理由と代わりの方法が出ることを確かめる。
JupyterLab とブラウザは 2 つのテストで共用する。画面の写しを build/browser/ に残す。
Chromium（Debian の chromium）と playwright は .ci/run が入れる。CI でそれがなければ失敗にする。
"""

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTEBOOK = "05_four_vs_nine.ipynb"
OWN_CLASSES = "own_classes_check.ipynb"  # テストがその場で作る、モデルを使わない小さなノートブック
DIGITS = "digit_pad_check.ipynb"  # 同じく、クラスごとの平均の画像と比べるだけの予測で DigitPad を出す
CAMERA = "camera_check.ipynb"  # 同じく、受け取った画像の大きさを表示するだけの CameraCapture
SLOW = "slow_photo_check.ipynb"  # 同じく、分類に 4 秒かかる PhotoUploader（知らせの上限を 1 秒にする）
ARTEFACTS = ROOT / "build" / "browser"


def _needs_browser():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Chromium（apt-get install chromium fonts-noto-cjk）")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright（pip install playwright）")
    if missing and os.environ.get("CI"):
        pytest.fail("CI にブラウザのテストの道具がありません: " + "、".join(missing))
    if missing:
        pytest.skip("ブラウザのテストの道具がありません: " + "、".join(missing))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> None:
    """JupyterLab の設定: 画面外のセルも描く（数えられるように）、ニュースの通知を出さない。"""
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
    }.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _own_classes_notebook(path: Path) -> None:
    """平均の色で学習・分類する（モデルを使わない）OwnClassesTrainer のノートブックを作る。"""
    import nbformat

    code = """\
import numpy as np
from course_utils.own_classes import OwnClassesTrainer


def mean_colour(image):
    return np.asarray(image, float).reshape(-1, 3).mean(0)


def train(photos):
    return {name: np.mean([mean_colour(image) for _, image in items], 0)
            for name, items in photos.items()}


def classify(classifier, image, name):
    colour = mean_colour(image)
    best = min(classifier, key=lambda k: ((classifier[k] - colour) ** 2).sum())
    print(f"分類の結果: {name} は「{best}」です")


OwnClassesTrainer(train, classify, min_photos=2)"""
    kernel = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)], metadata=kernel),
                   path)


def _write_notebook(path: Path, code: str) -> None:
    import nbformat

    kernel = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)], metadata=kernel),
                   path)


DIGITS_CODE = """\
import numpy as np
from course_utils.data import load_mnist
from course_utils.live import DigitPad, prepare_like_mnist, prepare_raw

train = load_mnist(train=True)  # クイックモードの 5,000 枚
images = train.data.numpy().reshape(-1, 784) / 255
labels = train.targets.numpy()
centroids = np.stack([images[labels == k].mean(0) for k in range(10)])  # クラスごとの平均の画像
centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)


def predict(batch):
    x = np.asarray(batch).reshape(len(batch), 784)
    similarity = x @ centroids.T / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-8)
    e = np.exp(20 * (similarity - similarity.max(1, keepdims=True)))
    return e / e.sum(1, keepdims=True)


DigitPad(predict, {"MNIST と同じ前処理": prepare_like_mnist, "そのまま縮小": prepare_raw}, save_path=None)"""

CAMERA_CODE = """\
import numpy as np
from course_utils.live import CameraCapture


def classify(image, name):
    print(f"分類の関数が受け取った画像: {image.width}×{image.height}、明るさの平均 {np.asarray(image).mean():.0f}")


CameraCapture(classify)"""


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """ノートブックを置いた一時フォルダで JupyterLab を起動し、ノートブックの名前から URL を作る関数を返す。"""
    _needs_browser()
    tmp_path = tmp_path_factory.mktemp("lab")
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)  # 元のノートブックは書き換えない
    _own_classes_notebook(work / OWN_CLASSES)
    _write_notebook(work / DIGITS, DIGITS_CODE)
    _write_notebook(work / CAMERA, CAMERA_CODE)
    _write_notebook(work / SLOW, SLOW_CODE)
    _settings(tmp_path / "settings")
    port, token = _free_port(), "course-browser-test"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={tmp_path}",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}"],
        env=dict(os.environ, COURSE_QUICK="1"), stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "server.log", "w"))
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        # ノートブックごとに別のワークスペース（前のテストで開いたタブを開き直さない）
        yield lambda name: (f"http://127.0.0.1:{port}/lab/workspaces/{Path(name).stem}"
                            f"/tree/notebooks/{name}?token={token}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _run_all_cells(page, tries=5):
    """メニューの「Run → Run All Cells」を押す。開いた直後は効かないことがあるので、始まるまで押し直す。"""
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                     .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
    for attempt in range(tries):
        page.wait_for_timeout(2000 if attempt else 500)  # 1 回目は短く（カーネルは呼ぶ側で待った）
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():  # カーネルがつながる前に押すと、カーネルを選ぶ画面が出ることがある
            dialog.locator(".jp-mod-accept").first.click()
            continue
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=10_000)
            return
        except Exception:  # まだ始まっていなければ、もう一度押す
            page.keyboard.press("Escape")
    raise AssertionError("JupyterLab で全セルの実行を始められませんでした")


@pytest.fixture(scope="module")
def playwright(jupyterlab):
    """Playwright（同期版は 1 つしか動かせないので、2 つの Chromium で共用する）。"""
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        yield p


BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium(playwright):
    """ヘッドレスの Chromium（カメラなし。テストの間で共用する）。"""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
    try:
        yield browser
    finally:
        browser.close()


def _open_and_run(page, url: str, timeout: int) -> None:
    """ノートブックを開いて全セルを実行し、すべてのコードセルに実行番号が付くまで待つ。"""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    # 下の帯に「Python 3 (ipykernel) | Idle」が出るまで待つ（カーネルがつながった）
    page.get_by_text(re.compile(r"\(ipykernel\) \| Idle")).first.wait_for(timeout=90_000)
    _run_all_cells(page)
    page.wait_for_function("""() => {
        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
        return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
    }""", timeout=timeout)


def _error_outputs(page):
    return page.locator("[data-mime-type='application/vnd.jupyter.error'], "
                        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")


@contextlib.contextmanager
def _lab_page(browser, shot: str):
    """JupyterLab を開くページ。終わりに、エラーの出力がないことを確かめ、画面の写しを shot に残して閉じる。"""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        yield page
        errors = _error_outputs(page)
        assert errors.count() == 0, errors.first.inner_text()
    finally:
        page.screenshot(path=str(ARTEFACTS / shot))
        page.close()


def test_notebook_runs_in_jupyterlab_with_widgets_and_japanese(jupyterlab, chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _open_and_run(page, jupyterlab(NOTEBOOK), timeout=180_000)
        errors = _error_outputs(page)
        assert errors.count() == 0, errors.first.inner_text()
        assert page.get_by_text("IPAexGothic").count() >= 1  # 日本語フォントを登録した
        assert page.locator(".jp-OutputArea-output img").count() >= 10  # 図
        slider = page.locator(".widget-slider")
        assert slider.count() >= 1  # PredictionExplorer のスライダーが描かれた
        # 部品の出力欄（中身を直接書き換える方式）に、図が画像として描かれた
        page.wait_for_selector(".widget-output img, .jupyter-widgets-output-area img",
                               timeout=30_000)
        first = page.locator(".widget-output img, .jupyter-widgets-output-area img").first
        before = first.get_attribute("src")
        slider.first.locator(".ui-slider-handle, .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")  # スライダーを動かすと図が描き直される
        page.wait_for_function(
            """(before) => [...document.querySelectorAll(
                '.widget-output img, .jupyter-widgets-output-area img')]
                .some(img => img.getAttribute('src') !== before)""", arg=before, timeout=30_000)
        slider.first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTEFACTS / "05_explorer.png"))
    finally:
        page.screenshot(path=str(ARTEFACTS / "05_last_view.png"))
        page.close()


SLOW_CODE = """\
import time

import course_utils.time_limit as time_limit
from course_utils.photos import PhotoUploader

time_limit.TIME_LIMIT_S = 1  # テストでは、1 秒たったら「まだ終わっていません」を出す（講座では 15 秒）
calls = []


def classify(image, name):
    calls.append(name)
    time.sleep(4)
    print(f"{len(calls)} 回目の分類が終わりました: {name}（{image.width}×{image.height}）")


PhotoUploader(classify)"""


def _png(colour) -> dict:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _choose_files(page, upload_button, files: list[tuple[str, tuple]]) -> None:
    """「写真を選ぶ」を押し、開いたファイル選択に写真を渡す（学習者がファイルを選ぶのと同じ）。

    ipywidgets 8 の FileUpload の <input type=file> はページに置かれないので、
    ボタンを押して開くファイル選択（filechooser）に set_files で渡す。
    """
    with page.expect_file_chooser() as chooser:
        upload_button.click()
    chooser.value.set_files([{"name": name, "mimeType": "image/png", "buffer": _png(colour)}
                             for name, colour in files])


def test_own_classes_trainer_learns_and_classifies_in_the_browser(jupyterlab, chromium):
    """08 の部品: 2 クラスの写真を選び、名前を入れて「学習する」を押し、新しい写真を分類する。"""
    with _lab_page(chromium, "08_own_classes.png") as page:
        _open_and_run(page, jupyterlab(OWN_CLASSES), timeout=60_000)
        uploads = page.locator(".widget-upload")
        uploads.nth(3).wait_for(timeout=30_000)  # 3 行 + 分類する写真
        assert uploads.count() == 4
        page.get_by_placeholder("例: ねこ").fill("あか")
        page.get_by_placeholder("例: いぬ").fill("あお")
        _choose_files(page, uploads.nth(0), [("r1.png", (230, 20, 20)), ("r2.png", (200, 0, 40))])
        page.get_by_text("1 行目「あか」: 使える写真 2 枚").wait_for(timeout=20_000)
        _choose_files(page, uploads.nth(1), [("b1.png", (20, 20, 230)), ("b2.png", (0, 40, 200)),
                                             ("b3.png", (30, 30, 250))])
        page.get_by_text("2 行目「あお」: 使える写真 3 枚").wait_for(timeout=20_000)
        assert page.get_by_text("3 枚", exact=True).count() == 1  # 行の枚数の表示
        page.get_by_role("button", name="学習する", exact=True).click()
        page.get_by_text("✓ 学習しました").wait_for(timeout=20_000)
        _choose_files(page, uploads.nth(3), [("test.png", (240, 30, 10))])
        page.get_by_text("分類の結果: test.png は「あか」です").wait_for(timeout=20_000)


def test_own_classes_trainer_adds_photos_chosen_again_and_clears_a_class(jupyterlab, chromium):
    """ipywidgets 8: 同じ行で「写真を選ぶ」をくり返すと写真が加わり、「このクラスの写真を消す」で 0 枚に戻る。"""
    with _lab_page(chromium, "08_own_classes_add_clear.png") as page:
        _open_and_run(page, jupyterlab(OWN_CLASSES), timeout=60_000)
        uploads = page.locator(".widget-upload")
        uploads.nth(3).wait_for(timeout=30_000)
        page.get_by_placeholder("例: ねこ").fill("あか")
        _choose_files(page, uploads.nth(0), [("r1.png", (230, 20, 20))])
        page.get_by_text("1 行目「あか」: 使える写真 1 枚").wait_for(timeout=20_000)
        _choose_files(page, uploads.nth(0), [("r2.png", (200, 0, 40)), ("r3.png", (250, 60, 60))])
        page.get_by_text("1 行目「あか」: 使える写真 3 枚").wait_for(timeout=20_000)  # 置き換えずに加わる
        page.get_by_role("button", name="このクラスの写真を消す").first.click()
        page.get_by_text("0 枚", exact=True).first.wait_for(timeout=20_000)
        _choose_files(page, uploads.nth(0), [("r1.png", (230, 20, 20))])  # 消した後に同じ写真を選び直せる
        page.get_by_text("1 行目「あか」: 使える写真 1 枚").wait_for(timeout=20_000)


def test_a_slow_classification_shows_the_waiting_notice_and_then_the_result(jupyterlab, chromium):
    """分類が上限（テストでは 1 秒）を過ぎると、部品の知らせの欄に「まだ終わっていません」が出て、終われば消える。

    知らせはカーネルが分類の関数を実行している間に、別のスレッドから部品の値を書き換えて出す。
    それが本物の JupyterLab の画面に届くことを確かめる。
    """
    with _lab_page(chromium, "07_slow_notice.png") as page:
        _open_and_run(page, jupyterlab(SLOW), timeout=60_000)
        upload = page.locator(".widget-upload").first
        upload.wait_for(timeout=30_000)
        _choose_files(page, upload, [("cat.png", (120, 90, 60))])
        notice = page.get_by_text("1 秒たってもまだ終わっていません")
        notice.wait_for(timeout=10_000)  # 4 秒の分類の途中で出る
        assert "分類の関数 classify が" in notice.inner_text()
        page.get_by_text("1 回目の分類が終わりました: cat.png（16×12）").wait_for(timeout=20_000)
        page.wait_for_timeout(500)
        assert notice.count() == 0, "分類が終わっても知らせが残っています"


def test_digit_pad_predicts_a_digit_drawn_with_the_mouse(jupyterlab, chromium):
    """04・06 の部品: 枠の中央に縦の線（1）をマウスで描くと、予測「1」と 28×28 の画像が出る。「消す」で戻る。"""
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    try:
        _open_and_run(page, jupyterlab(DIGITS), timeout=60_000)
        canvas = page.locator("canvas.course-digit-canvas")
        canvas.wait_for(timeout=30_000)
        page.get_by_text("左の黒い枠に、マウスか指で数字を 1 つ描いてください").wait_for(timeout=20_000)
        preview = page.locator(".widget-image img, img.widget-image").first
        before = preview.get_attribute("src")
        box = canvas.bounding_box()
        x = box["x"] + box["width"] * 0.5
        page.mouse.move(x, box["y"] + box["height"] * 0.15)
        page.mouse.down()
        page.mouse.move(x + 4, box["y"] + box["height"] * 0.85, steps=25)
        page.mouse.up()
        predicted = """() => [...document.querySelectorAll('.course-prob-row')]
            .filter(d => d.textContent.includes('← 予測')).map(d => d.textContent.trim()[0])"""
        page.wait_for_function(f"() => ({predicted})().length > 0", timeout=20_000)
        assert page.evaluate(predicted) == ["1"]
        assert preview.get_attribute("src") != before  # モデルが見る 28×28 の画像が描き直された
        page.screenshot(path=str(ARTEFACTS / "04_digit_pad.png"))
        page.get_by_role("button", name="消す").click()
        page.get_by_text("左の黒い枠に、マウスか指で数字を 1 つ描いてください").wait_for(timeout=20_000)
        errors = _error_outputs(page)
        assert errors.count() == 0, errors.first.inner_text()
    finally:
        page.close()


@pytest.fixture(scope="module")
def chromium_with_camera(playwright):
    """偽のカメラ（動く模様の映像）を持ち、カメラの許可を自動で与える Chromium。"""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS + [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    try:
        yield browser
    finally:
        browser.close()


def test_camera_frame_reaches_the_classifier(jupyterlab, chromium_with_camera):
    page = chromium_with_camera.new_page(viewport={"width": 1200, "height": 900})
    try:
        _open_and_run(page, jupyterlab(CAMERA), timeout=60_000)
        page.get_by_role("button", name="カメラを起動").click()
        shoot = page.get_by_role("button", name="撮影")
        page.wait_for_function("""() => [...document.querySelectorAll('.course-camera button')]
            .some(b => b.textContent === '撮影' && !b.disabled)""", timeout=20_000)
        page.wait_for_function("() => document.querySelector('.course-camera video').videoWidth > 0",
                               timeout=20_000)
        shoot.click()
        page.get_by_text(re.compile(r"受け取った画像: カメラの写真 1 枚目（\d+×\d+）")).wait_for(timeout=20_000)
        page.get_by_text(re.compile(r"分類の関数が受け取った画像: \d+×\d+")).wait_for(timeout=20_000)
        page.screenshot(path=str(ARTEFACTS / "07_camera.png"))
        page.get_by_role("button", name="カメラを止める").click()
        errors = _error_outputs(page)
        assert errors.count() == 0, errors.first.inner_text()
    finally:
        page.close()


def test_without_a_camera_the_learner_gets_a_japanese_reason(jupyterlab, chromium):
    """偽のカメラの設定のない Chromium（カメラがない端末と同じ）では、理由と代わりの方法が出る。

    許可しなかったとき（NotAllowedError）などの文は、tests/test_live.py がエラー名ごとに確かめる。
    """
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    try:
        _open_and_run(page, jupyterlab(CAMERA), timeout=60_000)
        page.get_by_role("button", name="カメラを起動").click()
        message = page.get_by_text(re.compile(r"✗ カメラ.*「写真を選ぶ」から"))
        message.wait_for(timeout=20_000)
        assert re.search(r"許可されませんでした|見つかりませんでした|開けませんでした", message.inner_text())
        page.screenshot(path=str(ARTEFACTS / "07_camera_denied.png"))
    finally:
        page.close()
