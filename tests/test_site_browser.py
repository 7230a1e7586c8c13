"""講座のサイトを作り、本物のブラウザ（ヘッドレスの Chromium）で全ページを開いて確かめる。

127.0.0.1 の http サーバーで開き、次を確かめる。
- どのページも、外（127.0.0.1 以外）へ 1 つも通信しない（スクリプト・フォント・スタイルはすべて手元）。
- 日本語の文字が字形で描かれる（豆腐にならない）。どの <img> も読めている（naturalWidth > 0）。
- 数式のあるページでは MathJax が数式を組み、$…$ や \\[ のまま残った式がない。
- 各レッスンのページに、そのノートブックを Colab で開くリンク（正しい URL）と、実行の記録がある。
- 目次に 00〜08 が順に並ぶ。日本語の語（畳み込み、逆伝播）の検索で、そのレッスンが見つかる。
- 部品（ウィジェット）の出力が保存した状態から描かれ、「Colab か JupyterLab で動く」の一文が付く。
画面の写し（パソコンの幅とスマートフォンの幅）を build/site-shots/ に残す。
"""

import functools
import http.server
import re
import sys
import threading

import pytest

from conftest import ROOT
from test_browser import BROWSER_ARGS, CHROMIUM, _needs_browser

sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import site_pages  # noqa: E402

LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GUIDES = ["index", "learners", "instructor_guide", "measuring", "contributing"]
SHOTS = ROOT / "build" / "site-shots"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def _repository() -> str:
    return site_pages.repository_url().removeprefix("https://github.com/")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # 1 回の読み込みごとの行を出さない
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """サイトを一時フォルダに作り（README の 1 行と同じスクリプト）、127.0.0.1 で配る。URL の先頭を返す。"""
    _needs_browser()
    out = tmp_path_factory.mktemp("site") / "html"
    assert build_site.main(["--out", str(out)]) == 0, "サイトを警告なしで作れませんでした"
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser, url: str, width: str = "desktop"):
    """ページを開き、すべての通信の URL と、読めなかったものを記録する。"""
    w, h = WIDTHS[width]
    page = browser.new_page(viewport={"width": w, "height": h})
    requests, failed = [], []
    page.on("request", lambda r: requests.append(r.url))
    # anywidget は部品のコードを blob: の URL から読み、読んだら URL を消すので、その取り消しは数えない
    page.on("requestfailed", lambda r: None if r.url.startswith("blob:") and "ABORTED" in (r.failure or "")
            else failed.append(f"{r.url}（{r.failure}）"))
    page.on("response", lambda r: failed.append(f"{r.url}（{r.status}）") if r.status >= 400 else None)
    page.goto(url, wait_until="networkidle")
    return page, requests, failed


# 2 つの違う漢字を、ページの本文の字体で canvas に描いて比べる。字形がなく豆腐になれば同じ絵になる
JAPANESE_GLYPHS = """() => {
    const font = getComputedStyle(document.querySelector('h1')).fontFamily;
    const draw = (ch) => {
        const c = document.createElement('canvas'); c.width = 40; c.height = 40;
        const g = c.getContext('2d'); g.font = `32px ${font}`; g.fillText(ch, 2, 32);
        return Array.from(g.getImageData(0, 0, 40, 40).data).join(',');
    };
    return draw('畳') !== draw('逆') && draw('畳') !== draw(' ');
}"""

IMAGES = """() => [...document.images].map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0])"""

# 組まれずに残った数式（コードの中は除く）
RAW_MATH = r"""() => {
    const article = document.querySelector('article') || document.body;
    const copy = article.cloneNode(true);
    copy.querySelectorAll('pre, code, .highlight, mjx-container, script, style').forEach(e => e.remove());
    const text = copy.textContent;
    return (text.match(/\$\$|\\\[|\\\(|\$[^$\s][^$\n]{0,80}\$/g) || []).slice(0, 5);
}"""


@pytest.mark.parametrize("name", GUIDES + LESSONS + ["search"])
def test_every_page_is_local_japanese_and_complete(site, browser, name):
    page, requests, failed = _open(browser, f"{site}{name}.html")
    try:
        outside = [u for u in requests if not u.startswith((site, "data:", "blob:"))]
        assert not outside, f"{name}: 外への通信があります: {outside[:5]}"
        assert not failed, f"{name}: 読めなかったもの: {failed[:5]}"
        assert page.evaluate(JAPANESE_GLYPHS), f"{name}: 日本語が字形で描かれていません（フォントがない）"
        broken = [src for src, ok in page.evaluate(IMAGES) if not ok]
        assert not broken, f"{name}: 表示できない画像: {broken[:3]}"
        if page.locator("mjx-container").count() or name in ("01_softmax_regression", "02_backpropagation"):
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
            page.evaluate("() => MathJax.startup.promise")
            assert page.locator("mjx-container").count() > 0, f"{name}: 数式が組まれていません"
        leftover = page.evaluate(RAW_MATH)
        assert not leftover, f"{name}: 組まれずに残った数式: {leftover}"
    finally:
        page.close()


@pytest.mark.parametrize("name", LESSONS)
def test_each_lesson_links_to_colab_and_states_its_run(site, browser, name):
    page, _, _ = _open(browser, f"{site}{name}.html")
    try:
        colab = f"https://colab.research.google.com/github/{_repository()}/blob/main/notebooks/{name}.ipynb"
        links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        assert links.count(colab) >= 2, f"{name}: Colab のリンク（上のボタンと本文のバッジ）がありません: {colab}"
        note = page.locator("blockquote", has_text="このページの出力について")
        assert note.count() == 1 and re.search(r"通常モード", note.inner_text()), f"{name}: 実行の記録がありません"
    finally:
        page.close()


def test_the_table_of_contents_lists_the_lessons_in_order(site, browser):
    page, _, _ = _open(browser, site)
    try:
        hrefs = page.eval_on_selector_all("nav.bd-links a.reference.internal",
                                          "as => as.map(a => a.getAttribute('href'))")
        lessons = [h.removesuffix(".html") for h in hrefs if re.match(r"\d\d_", h)]
        assert lessons == LESSONS, hrefs
    finally:
        page.close()


@pytest.mark.parametrize("word, lesson", [("畳み込み", "04_cnn"), ("逆伝播", "02_backpropagation"),
                                          ("自己注意", "06_vision_transformer"), ("転移学習", "08_transfer_learning"),
                                          ("誤差逆伝播", "02_backpropagation"), ("混同行列", "01_softmax_regression"),
                                          ("バッチ正規化", "04_cnn"), ("BatchNorm", "08_transfer_learning")])
def test_japanese_search_finds_the_lesson(site, browser, word, lesson):
    page, _, _ = _open(browser, f"{site}search.html?q={word}")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=20_000)
        found = page.eval_on_selector_all("#search-results ul.search li a",
                                          "as => as.map(a => a.getAttribute('href'))")
        assert any(h.startswith(lesson + ".html") for h in found[:5]), (word, found[:10])
    finally:
        page.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_menu_button_shows_and_hides_the_lessons(site, browser, width):
    """スマートフォンでは ☰ で目次が開き、パソコンでは目次が畳まれる（テーマの食い違いを course.js が直す）。"""
    page, _, _ = _open(browser, f"{site}03_mlp.html", width)
    try:
        lesson = page.locator("a.reference.internal[href='06_vision_transformer.html']:visible")
        shown = lesson.count() > 0
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_timeout(600)
        assert (lesson.count() > 0) != shown, f"幅 {WIDTHS[width][0]} px で ☰ を押しても目次が変わりません"
    finally:
        page.close()


def test_saved_widgets_render_with_a_note(site, browser):
    page, _, failed = _open(browser, f"{site}04_cnn.html")
    try:
        page.wait_for_selector(".widget-note", timeout=10_000)
        page.wait_for_function("() => document.querySelectorAll('.jupyter-widgets, .widget-box').length > 0",
                               timeout=20_000)
        assert page.locator(".widget-note").count() >= 1
        assert not failed
    finally:
        page.close()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", ["index", "00_setup", "02_backpropagation", "04_cnn", "07_pretrained_models"])
def test_screenshots_for_a_person_to_look_at(site, browser, name, width):
    """画面の写しを残す（人が見て確かめる）。スマートフォンの幅で横にはみ出さないことも確かめる。"""
    page, _, _ = _open(browser, f"{site}{name}.html", width)
    try:
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=False)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: 幅 {WIDTHS[width][0]} px で、ページが横に {overflow} px はみ出します"
    finally:
        page.close()
