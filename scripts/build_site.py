"""講座のサイト（HTML）を、ネットワークを使わずに作る。

1. build/site-src/ に、ページの元を集める: docs/ の説明のページと、各レッスンのページ（notebooks/ の
   今のノートブックの文に、docs/executed/ の実行ずみの写しの出力を合わせたもの。site_pages.compose）。
2. Sphinx（myst-nb、sphinx-book-theme。設定は docs/conf.py）で build/site/ に HTML を作る。

写しのコードが今のノートブックと違うレッスンがあれば、そのページは作らずに理由を表示して失敗する
（古いコードの出力を載せない）。写しを新しくするには `scripts/benchmark.py 04 --store` などを実行する。

使い方（リポジトリの一番上で）:
    .venv/bin/python scripts/build_site.py            # build/site/index.html ができる
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import site_pages  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
README_TABLE = "README の「実測の結果」の表"
RESULTS_HERE = "<!-- include-results -->"  # docs/ のページで、README の結果の表を載せる所
RESULTS_BEGIN, RESULTS_END = "<!-- results-table -->", "<!-- /results-table -->"


def site_links(text: str) -> str:
    """docs/ と README の中のリンクを、サイトの中の場所に直す（ノートブック → レッスンのページ）。"""
    text = re.sub(r"\]\((?:\.\./)?notebooks/(\d\d_[\w]+)\.ipynb\)", r"](\1.ipynb)", text)
    text = re.sub(r"\]\((?:\.\./)?README\.md\)", "](index.md)", text)
    text = re.sub(r"\]\(docs/([\w]+\.md)\)", r"](\1)", text)
    text = text.replace(COLAB_BADGE, "colab-badge.svg")  # バッジの絵もサイトの中から読む（外へ通信しない）
    # サイトにないリポジトリのファイル・フォルダは、GitHub のページへのリンクにする
    repository = site_pages.repository_url()
    return re.sub(r"\]\(\.\./([^)#]+)\)", lambda m: f"]({repository}/blob/main/{m.group(1)})", text)


def results_block() -> str:
    """README の実測の結果（マーカーの間）。リンクは、載せたページと一緒に site_links が直す。"""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split(RESULTS_BEGIN, 1)[1].split(RESULTS_END, 1)[0]


def collect(source: Path, executed: Path = site_pages.EXECUTED) -> list[str]:
    """build/site-src を作り直す。作れなかったレッスンの理由の一覧を返す（空なら全部作れた）。"""
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    shutil.copy(DOCS / "colab-badge.svg", source / "colab-badge.svg")
    for page in sorted(DOCS.glob("*.md")):  # 説明のページ（目次は docs/index.md の toctree）
        text = page.read_text(encoding="utf-8")
        if RESULTS_HERE in text:
            text = text.replace(RESULTS_HERE, results_block())
        (source / page.name).write_text(site_links(text), encoding="utf-8")
    problems = []
    for notebook in sorted(site_pages.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        stored = executed / notebook.name
        if not stored.exists():
            shown = stored.relative_to(ROOT) if stored.is_relative_to(ROOT) else stored  # --executed は外でもよい
            problems.append(f"{notebook.stem}: 実行ずみの写し {shown} がありません")
            continue
        try:
            page = site_pages.compose(notebook, stored)
        except ValueError as error:
            problems.append(f"{notebook.stem}: {error}")
            continue
        for cell in page.cells:
            if cell.cell_type == "markdown":  # ノートブックの文の「README の表」は、サイトでは実測の方法のページにある
                cell.source = site_links(cell.source.replace(README_TABLE, "[「実測の結果」の表](measuring.md)"))
        nbformat.write(page, source / notebook.name)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="HTML を書くフォルダ")
    parser.add_argument("--executed", type=Path, default=site_pages.EXECUTED,
                        help="実行ずみの写しのフォルダ（既定は docs/executed）")
    parser.add_argument("--partial", action="store_true",
                        help="写しのないレッスン・古いレッスンを飛ばして、作れるページだけで作る（確かめ用）")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    source = ROOT / "build" / "site-src"
    problems = collect(source, args.executed)
    if problems:
        print("次のレッスンのページを作れません:\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
        if not args.partial:
            return 1
    from sphinx.cmd.build import build_main  # サイトを作るときだけ要る（.[test] に入っている）

    if args.out.exists():
        shutil.rmtree(args.out)
    strict = [] if args.partial else ["-W", "--keep-going"]  # 警告（壊れたリンクなど）も失敗にする
    doctrees = ROOT / "build" / "site-doctrees"  # Sphinx の作業用の中間ファイル（サイトには載せない）
    status = build_main(["-b", "html", "-E", "-c", str(DOCS), "-d", str(doctrees), "-q", *strict,
                         str(source), str(args.out)])
    if status != 0:
        print("サイトを作れませんでした（上の警告を直してください）。", file=sys.stderr)
        return status
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 1e6
    print(f"サイトを作りました: {args.out / 'index.html'}（{size:.1f} MB、{time.perf_counter() - start:.0f} 秒）")
    print(f"見るには: python -m http.server -d {args.out} 8000 を実行し、http://127.0.0.1:8000/ を開く")
    return 0


if __name__ == "__main__":
    sys.exit(main())
