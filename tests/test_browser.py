"""本物のブラウザ（ヘッドレスの Chromium）で JupyterLab を開き、04 の全セルを実行して画面を確かめる。

エラーの出力がないこと、ipywidgets の部品が描かれたこと、図が描かれたこと、日本語フォントが
登録されたことを、ページの中身で確かめ、画面の写しを build/browser/ に残す。
Chromium（Debian の chromium）と playwright は .ci/run が入れる。CI でそれがなければ失敗にする。
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTEBOOK = "04_four_vs_nine.ipynb"
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


@pytest.fixture
def jupyterlab(tmp_path):
    """ノートブックの写しを置いた一時フォルダで JupyterLab を起動し、(URL, token) を返す。"""
    _needs_browser()
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)  # 元のノートブックは書き換えない
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
        yield f"http://127.0.0.1:{port}/lab/tree/notebooks/{NOTEBOOK}?token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _run_all_cells(page, tries=5):
    """メニューの「Run → Run All Cells」を押す。開いた直後は効かないことがあるので、始まるまで押し直す。"""
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                     .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
    for _ in range(tries):
        page.wait_for_timeout(2000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=10_000)
            return
        except Exception:  # まだ始まっていなければ、もう一度押す
            page.keyboard.press("Escape")
    raise AssertionError("JupyterLab で全セルの実行を始められませんでした")


def test_notebook_runs_in_jupyterlab_with_widgets_and_japanese(jupyterlab):
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(jupyterlab)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=90_000)
            _run_all_cells(page)
            # すべてのコードセルに実行番号が付くまで待つ
            page.wait_for_function("""() => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""", timeout=180_000)
            errors = page.locator("[data-mime-type='application/vnd.jupyter.error'], "
                                  ".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.stderr']")
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
            page.screenshot(path=str(ARTEFACTS / "04_explorer.png"))
        finally:
            page.screenshot(path=str(ARTEFACTS / "04_last_view.png"))
            browser.close()
