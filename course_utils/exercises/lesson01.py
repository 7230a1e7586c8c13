"""01 ソフトマックス回帰（notebooks/01_softmax_regression.ipynb）の演習: 安定なソフトマックス、
パラメータ数、自動微分を使わない勾配（q3 は実験なので、ノートブックの解答例で確かめる）。"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .core import Exercise, Problem, call, count, describe, tensor


def check_softmax(softmax: Any) -> Problem:
    z = torch.tensor([2.0, 1.0, 0.1])
    p = tensor(call(softmax, z, usage="my_softmax(z)"), "my_softmax が返した値")
    if p.shape != z.shape:
        return f"出力の形が {tuple(p.shape)} です。入力と同じ {tuple(z.shape)} になるはずです。"
    if not torch.isclose(p.sum(), torch.tensor(1.0), atol=1e-5):
        return f"確率の合計が {float(p.sum()):.4f} です。合計で割りましたか。"
    if not torch.allclose(p, torch.softmax(z, dim=0), atol=1e-5):
        return "合計は 1 ですが、torch.softmax と値が違います。exp を使っていますか。"
    big = tensor(call(softmax, torch.tensor([1000.0, 1001.0, 1002.0]), usage="my_softmax(z)"),
                 "my_softmax が返した値")
    if not torch.isfinite(big).all():
        return ("[1000, 1001, 1002] のような大きなロジットで nan や inf になります"
                "（exp があふれています）。")
    return None


def check_gradients(manual_gradients: Any) -> Problem:
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(16, 784, generator=g), torch.randint(0, 10, (16,), generator=g)
    W = (0.01 * torch.randn(784, 10, generator=g)).requires_grad_()
    b = torch.zeros(10, requires_grad=True)
    nn.functional.cross_entropy(X @ W + b, y).backward()  # 自動微分での正解
    result = call(manual_gradients, X, y, W.detach(), b.detach(), usage="manual_gradients(X, y, W, b)")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return f"(dW, db) の 2 つを返してください（返されたもの: {describe(result)}）。"
    dW, db = tensor(result[0], "返された dW"), tensor(result[1], "返された db")
    if dW.shape != W.shape or db.shape != b.shape:
        return (f"形が違います: dW {tuple(dW.shape)}（正しくは (784, 10)）、"
                f"db {tuple(db.shape)}（正しくは (10,)）。")
    if torch.allclose(dW, W.grad * len(y), atol=1e-4):
        return "dW がミニバッチの大きさ倍ずれています。平均をとりましたか。"
    if not torch.allclose(dW, W.grad, atol=1e-5):
        return "dW が自動微分の値と違います。X.T と (P − Y) の積になっていますか。"
    if not torch.allclose(db, b.grad, atol=1e-5):
        return "dW は合っていますが、db が違います。(P − Y) をミニバッチ方向に平均します。"
    return None


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "安定なソフトマックス", check_softmax,
            ["exp(z) を合計で割ると確率になります。",
             "大きなロジットでは exp があふれます。先に z から z の最大値を引いても答えは変わりません。",
             "z = z - z.max() のあと、torch.exp(z) / torch.exp(z).sum() を返します。"],
            "def my_softmax(z):\n    z = z - z.max()  # オーバーフロー対策\n"
            "    e = torch.exp(z)\n    return e / e.sum()",
            expects="関数 my_softmax そのもの（かっこなし）"),
        "q2": Exercise(
            "ソフトマックス回帰のパラメータ数", count(7850, {
                7840: "重みだけを数えています。バイアスも学習するパラメータです。",
                794: "重みは 784 と 10 の和ではなく、784 × 10 の行列です。",
                784: "重みは 784 × 10 の行列です。出力が 10 クラスあることを思い出しましょう。"}),
            ["nn.Linear(784, 10) は重み W とバイアス b を持ちます。",
             "W の形は (10, 784)、b の形は (10,) です。"],
            "784 × 10 + 10 = 7850\nsum(p.numel() for p in model.parameters()) でも確かめられます。",
            expects="パラメータの数（整数 1 つ）"),
        "q4": Exercise(
            "自動微分を使わない勾配", check_gradients,
            ["ロジット Z = XW + b についての損失の勾配は (P − Y) / B です"
             "（P は確率、Y は正解の one-hot、B はミニバッチの大きさ）。",
             "連鎖律で dW = Xᵀ (P − Y) / B、db = (P − Y) の行方向の平均です。",
             "Y は torch.nn.functional.one_hot(y, 10).float() で作れます。"],
            "def manual_gradients(X, y, W, b):\n    P = torch.softmax(X @ W + b, dim=1)\n"
            "    Y = torch.nn.functional.one_hot(y, 10).float()\n"
            "    return X.T @ (P - Y) / len(y), (P - Y).mean(dim=0)",
            expects="関数 manual_gradients そのもの（かっこなし）"),
    }
