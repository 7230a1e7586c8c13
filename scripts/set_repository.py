"""講座のリポジトリの場所（GitHub の OWNER/NAME）を、それを書いたすべての所で書き換える。

元は pyproject.toml の [project.urls] Repository。ほかに同じ場所を書いているのは、README とサイトの
ページ（Colab のバッジ、サイトの URL）、各ノートブックとその実行ずみの写し（Colab のバッジと、準備の
セルが clone する URL）。サイトの設定（docs/conf.py）は pyproject.toml から読む。

使い方（リポジトリの一番上で）:
    .venv/bin/python scripts/set_repository.py OWNER/NAME
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from course_utils.env import replace_file  # noqa: E402  （標準ライブラリだけを使う、いちばん下の部品）
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def copies(root: Path) -> list[Path]:
    """リポジトリの場所を書いているファイル（あるものだけ）。"""
    files = [root / "pyproject.toml", root / "README.md", *sorted((root / "docs").glob("*.md")),
             *sorted((root / "notebooks").glob("*.ipynb")), *sorted((root / "docs" / "executed").glob("*.ipynb")),
             *sorted((root / ".github" / "workflows").glob("*.yml"))]
    return [f for f in files if f.is_file()]


def current(root: Path) -> str:
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^Repository = "https://github\.com/([^"]+)"$', text, re.M)
    if not found:
        raise SystemExit("pyproject.toml の [project.urls] に Repository = \"https://github.com/OWNER/NAME\" がありません")
    return found.group(1)


def rewrite(text: str, old: str, new: str) -> str:
    """GitHub・Colab・GitHub Pages の URL の中の old を new にする（ほかの文字列は変えない）。"""
    old_owner, old_name = old.split("/")
    new_owner, new_name = new.split("/")
    end = "(?=[/\\\\\"')\\s>#.]|$)"  # URL の終わり（/ か、JSON の \\" や括弧や空白）。名前の続きには当たらない
    text = re.sub(r"(github\.com/|colab\.research\.google\.com/github/)" + re.escape(old) + end,
                  r"\g<1>" + new, text)
    return re.sub(rf"\b{re.escape(old_owner)}\.github\.io/{re.escape(old_name)}\b",
                  f"{new_owner.lower()}.github.io/{new_name}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", help="新しい場所（OWNER/NAME。例: my-lab/dl-course-ja）")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # テスト用
    args = parser.parse_args(argv)
    new = args.repository.strip().removeprefix("https://github.com/").strip("/")
    if not NAME.match(new):
        parser.error(f"「{args.repository}」は GitHub の OWNER/NAME の形ではありません（例: my-lab/dl-course-ja）。")
    old = current(args.root)
    if old == new:
        print(f"すでに {new} です。何も変えませんでした。")
        return 0
    changed = []
    for path in copies(args.root):
        text = path.read_text(encoding="utf-8")
        updated = rewrite(text, old, new)
        if updated != text:
            replace_file(path, updated)  # 一時ファイルから置き換える（途中で止まっても元のまま）
            changed.append(path.relative_to(args.root))
    print(f"{old} → {new}: {len(changed)} 個のファイルを書き換えました。")
    for path in changed:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
