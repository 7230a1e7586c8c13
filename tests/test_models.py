"""course_utils のモデルと関数が、ノートブックで書いたものと一致することを確かめる。"""

import nbformat
import pytest
import torch
from torch import nn

from course_utils import models
from course_utils.data import random_shift
from conftest import ROOT


def notebook_class(notebook: str, name: str) -> type:
    """ノートブックの中の `class NAME(nn.Module)` のセルを実行して、そのクラスを返す。"""
    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    cells = [c.source for c in nb.cells
             if c.cell_type == "code" and f"class {name}(nn.Module)" in c.source]
    assert len(cells) == 1, f"{notebook} に class {name} のセルが 1 つだけあるはず"
    namespace = {"nn": nn, "torch": torch}
    source = cells[0].split("\n\n\n")[0]  # クラス定義の部分だけ（後ろの試し実行は除く）
    exec(compile(source, notebook, "exec"), namespace)
    return namespace[name]


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("notebook, name, expected", [
    ("03_mlp.ipynb", "MLP", 235_146),
    ("04_cnn.ipynb", "CNN", 421_642),
])
def test_package_model_matches_the_notebook(notebook, name, expected):
    ours, theirs = getattr(models, name)(), notebook_class(notebook, name)()
    assert str(ours) == str(theirs)
    assert count(ours) == count(theirs) == expected
    torch.manual_seed(0)
    ours.load_state_dict(theirs.state_dict())  # 同じ名前・同じ形の重み
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(ours.eval()(x), theirs.eval()(x))


def test_make_cnn_matches_05():
    """05 のノートブックの make_cnn と、08 が読み込む course_utils.models.make_cnn が同じ。"""
    nb = nbformat.read(ROOT / "notebooks" / "05_four_vs_nine.ipynb", as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "def make_cnn(" in c.source]
    assert len(cells) == 1
    namespace = {"nn": nn, "torch": torch}
    exec(compile(cells[0].split("\n\n\n")[0], "05_four_vs_nine.ipynb", "exec"), namespace)
    ours, theirs = models.make_cnn(), namespace["make_cnn"]()
    assert str(ours) == str(theirs) and count(ours) == count(theirs) == 105_281
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(ours(x), theirs(x)) and ours(x).shape == (3,)


def test_random_shift_matches_the_notebook():
    import torch.nn.functional as F

    nb = nbformat.read(ROOT / "notebooks" / "04_cnn.ipynb", as_version=4)
    cells = [c.source for c in nb.cells
             if c.cell_type == "code" and "def random_shift(" in c.source]
    assert len(cells) == 1
    namespace = {"torch": torch, "F": F}
    exec(compile(cells[0].split("\n\n\n")[0], "04_cnn.ipynb", "exec"), namespace)
    X = torch.randn(16, 1, 28, 28)
    torch.manual_seed(1)
    theirs = namespace["random_shift"](X)
    torch.manual_seed(1)
    ours = random_shift(X)
    assert torch.equal(ours, theirs) and not torch.equal(ours, X)
