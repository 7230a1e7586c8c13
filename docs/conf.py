"""講座のサイトの Sphinx の設定（scripts/build_site.py が使う。ネットワークなしで作れる）。

ページの元は build_site.py が build/site-src/ に集める: docs/ の説明のページと、各レッスンのページ
（notebooks/ の今の文に、docs/executed/ の実行ずみの写しの出力を合わせたもの）。
数式（MathJax）・require.js・部品の表示（@jupyter-widgets/html-manager、anywidget）は、CDN ではなく
docs/_static/vendor/ の写し（版と出典は docs/_static/vendor/README.md）を読む。
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from site_pages import repository_url  # noqa: E402  （リポジトリの場所の元は pyproject.toml の 1 か所）

REPOSITORY = repository_url()

project = "手を動かして学ぶ深層学習（画像認識編）"
author = "dl-course-ja の執筆者"
copyright = "2026, dl-course-ja の執筆者（コードとノートブックは MIT ライセンス）"
language = "ja"  # 画面の文言と、日本語の検索（単語の区切り）を日本語にする

extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True  # 04 は文の中に $$…$$ を書いている
myst_heading_anchors = 3
nb_execution_mode = "off"  # 出力は docs/executed/ の実行ずみの写しのもの（サイトを作るときは実行しない）
nb_merge_streams = True
nb_render_markdown_format = "myst"  # display(Markdown(...)) の出力の数式（$…$）も組む
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

exclude_patterns = ["_build", "executed", "**/.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
# html-manager の部品のアイコンのフォント: html-manager は、ページと同じ階層の @jupyter-widgets/html-manager/dist/
# から読む（ページはどれもサイトの一番上にある）
html_extra_path = ["_extra"]
html_css_files = ["course.css"]
html_js_files = ["course.js"]  # 目次のボタンの手直しと、図を元の大きさで開くリンク
html_favicon = "_static/favicon.svg"
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "notebooks",  # レッスンのページ名（00_setup など）が notebooks/ のノートブックの名前になる
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,  # 元のファイル（_sources）は載せないので、ダウンロードの欄は出さない
}

# CDN の代わりに、サイトに置いた写しを読む（Sphinx は相対パスを _static/ からの場所として扱う）
mathjax_path = "vendor/mathjax/tex-mml-chtml.js"
nb_ipywidgets_js = {
    "vendor/require.js": {},
    "vendor/widgets-local.js": {},
    "vendor/html-manager/embed-amd.js": {},
}
# ノートブックの折りたたみ（<details>）の中の $…$ も、JupyterLab と同じように数式として組む。
# myst-nb はノートブックのページ全体に mathjax_ignore の印を付け、math の印の付いた所しか MathJax に見せないので、
# 無視する印を講座が使わない名前に替える（コードと出力の <pre> は、MathJax の既定でいつも飛ばされる）
mathjax3_config = {
    "tex": {"inlineMath": [["\\(", "\\)"], ["$", "$"]], "displayMath": [["\\[", "\\]"], ["$$", "$$"]],
            "processEscapes": True},
    "options": {"ignoreHtmlClass": "course-no-math"},
}


# ---- 日本語の検索: 文字の 2-gram ----
# Sphinx の日本語の検索は、索引を作るときだけ TinySegmenter で単語に分け、検索の語は分けない。分け方が文脈で
# 変わるので、「転移学習」「データ拡張」「混同行列」のような本文にある語でも見つからなかった。索引と検索の語の
# 両方を、かな・漢字の続きを 2 文字ずつ重ねて区切る（「転移学習」→ 転移・移学・学習）と、本文にある並びは必ず見つかる。
import re as _re  # noqa: E402

from sphinx.search import SearchLanguage  # noqa: E402

_KANA_KANJI = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆"


class JapaneseBigrams(SearchLanguage):
    lang = "ja"
    language_name = "Japanese"
    _runs = _re.compile(rf"[{_KANA_KANJI}]+|[^\W{_KANA_KANJI}]+")
    js_splitter_code = r"""
function splitQuery(query) {
  const runs = query.match(/[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]+|[\p{Letter}\p{Number}_]+/gu) || [];
  const terms = [];
  for (const run of runs) {
    if (/^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]+$/.test(run) && run.length > 2) {
      for (let i = 0; i + 2 <= run.length; i++) terms.push(run.slice(i, i + 2));
    } else {
      terms.push(run);
    }
  }
  return terms;
}
"""

    def split(self, text: str) -> list[str]:
        terms = []
        for run in self._runs.findall(text):
            if _re.fullmatch(rf"[{_KANA_KANJI}]+", run) and len(run) > 2:
                terms += [run[i:i + 2] for i in range(len(run) - 1)]
            else:
                terms.append(run)
        return terms

    def word_filter(self, word: str) -> bool:
        return len(word) > 1 or not word.isascii()  # 1 文字の漢字（「層」など）も探せるように残す

    def stem(self, word: str) -> str:
        return word.lower()


def setup(app):
    app.add_search_language(JapaneseBigrams)
