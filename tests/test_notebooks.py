"""ノートブックの体裁の検査（実行そのものは nbval が notebooks/ で行う）。"""

import re
import sys

import nbformat
import pytest

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPO_URL = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
REPO = REPO_URL.removeprefix("https://github.com/")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_there_are_numbered_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_setup.ipynb"
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"セル {i} に出力が残っています"
            assert cell.execution_count is None, f"セル {i} に実行番号が残っています"
            # 説明文の見出しがコードセルに紛れ込むと、本文として表示されない
            stray = [line for line in cell.source.splitlines() if re.match(r"# #{1,4} ", line)]
            assert not stray, f"セル {i}（コード）に Markdown の見出しがあります: {stray}"
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    title = first.source.splitlines()[0]
    assert title.startswith(f"# {path.name[:2]} ") and JAPANESE.search(title), title
    badge = (f"https://colab.research.google.com/github/{REPO}/blob/main/"
             f"notebooks/{path.name}")
    assert badge in first.source and "colab-badge.svg" in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_sets_up_colab_and_the_course(path):
    nb = nbformat.read(path, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code").source
    assert f"https://github.com/{REPO}" in setup
    assert '"--no-deps"' in setup and "japanize-matplotlib" in setup
    assert "setup_notebook()" in setup
