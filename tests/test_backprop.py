"""02 のノートブックに書いた、手で書いた逆伝播を、ノートブックのセルを実行して確かめる。

ノートブックは実行結果（相対誤差やテスト正解率）を表示するだけなので、ここでは
「手で書いた勾配が自動微分と一致すること」と「間違えた逆伝播との違いが見分けられること」を
ノートブックの関数そのもので確かめる。
"""

import math
import re

import nbformat
import pytest
import torch
from torch import nn

from conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "02_backpropagation.ipynb"


@pytest.fixture(scope="module")
def backprop():
    """2 層のネットワークを定義するセルだけを実行した名前空間。"""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    namespace = {"torch": torch, "nn": nn, "math": math, "device": torch.device("cpu")}
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("HIDDEN = "))
    source = cell.source.split("\n\n\nparams = init_params(")[0]  # 後ろの試し実行は除く
    exec(compile(source, NOTEBOOK.name, "exec"), namespace)
    # 数値微分のセルから、わざと間違えた逆伝播の関数だけを取り出す
    cell = next(c for c in nb.cells if "def backward_without_relu(" in c.source)
    start = cell.source.index("def backward_without_relu(")
    exec(compile(cell.source[start:].split("\n\n\n")[0], NOTEBOOK.name, "exec"), namespace)
    return namespace


def _batch(dtype):
    g = torch.Generator().manual_seed(1)
    return torch.randn(32, 784, generator=g, dtype=dtype), torch.randint(0, 10, (32,), generator=g)


def _autograd(ns, params, X, y):
    copies = {name: p.clone().requires_grad_() for name, p in params.items()}
    ns["cross_entropy"](ns["forward"](copies, X)[2], y).backward()
    return {name: p.grad for name, p in copies.items()}


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_hand_written_backward_matches_autograd(backprop, dtype, tolerance):
    params = backprop["init_params"](seed=3, dtype=dtype)
    X, y = _batch(dtype)
    hand = backprop["backward"](params, X, y, *backprop["forward"](params, X))
    auto = _autograd(backprop, params, X, y)
    assert set(hand) == set(params)
    for name in params:
        assert hand[name].shape == params[name].shape, name
        error = (hand[name] - auto[name]).norm() / (hand[name].norm() + auto[name].norm())
        assert error < tolerance, (name, error.item())


def test_cross_entropy_matches_pytorch(backprop):
    X, y = _batch(torch.float64)
    Z = X[:, :10]
    assert torch.allclose(backprop["cross_entropy"](Z, y), nn.functional.cross_entropy(Z, y))


def test_init_params_is_pytorchs_default_range(backprop):
    """本文どおり、nn.Linear の既定と同じ U(−1/√n_in, 1/√n_in) の範囲と標準偏差になっている。"""
    params = backprop["init_params"](seed=0)
    for name, n_in in [("W1", 784), ("b1", 784), ("W2", 128), ("b2", 128)]:
        assert params[name].abs().max() <= 1 / math.sqrt(n_in)
    assert abs(params["W1"].std().item() * math.sqrt(3 * 784) - 1) < 0.02
    reference = nn.Linear(784, 128).weight
    assert abs(params["W1"].std().item() - reference.std().item()) / reference.std().item() < 0.02


def test_a_forgotten_relu_mask_only_changes_the_first_layer(backprop):
    """ReLU の条件を忘れると W1, b1 だけが変わる（本文の「どこが間違っているかまで」の根拠）。"""
    ns = backprop
    params = ns["init_params"](seed=0, dtype=torch.float64)
    X, y = _batch(torch.float64)
    Z1, H, Z2 = ns["forward"](params, X)
    right = ns["backward"](params, X, y, Z1, H, Z2)
    wrong = ns["backward_without_relu"](params, X, y, Z1, H, Z2)
    assert not torch.allclose(wrong["W1"], right["W1"]) and not torch.allclose(wrong["b1"], right["b1"])
    assert torch.equal(wrong["W2"], right["W2"]) and torch.equal(wrong["b2"], right["b2"])


def test_generated_prose_writes_exponents_with_sci():
    """本文を作るセル（display(Markdown(...))）では、指数を 7.5e-18 ではなく sci() で 7.5 × 10⁻¹⁸ と書く。"""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "Markdown(" in c.source]
    assert cells
    for source in cells:
        assert not re.search(r"\{[^{}]*:[^{}]*[eEgG]\}", source), source[:200]
