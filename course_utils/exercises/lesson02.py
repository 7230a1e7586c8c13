"""02 誤差逆伝播法（notebooks/02_backpropagation.ipynb）の演習: 掛け算とシグモイドのノードの逆伝播、
nn.Linear の既定の初期化、全結合層の逆伝播を書いて自動微分と比べる
（q5 は実験なので、ノートブックの解答例で確かめる）。"""

from __future__ import annotations

import math
from typing import Any

import torch

from .core import Exercise, Problem, call, describe, number, tensor

DEFAULT_STD = 1 / math.sqrt(3 * 256)  # nn.Linear(256, 128) の重み: U(−1/√256, 1/√256) の標準偏差


def _near(value: float, target: float, rel_tol: float = 2e-3) -> bool:
    return math.isclose(value, target, rel_tol=rel_tol, abs_tol=1e-9)


def check_multiply(answer: Any) -> Problem:
    """z = x·y（x = 3, y = −2）、上流からの勾配 0.5 のとき ∂L/∂x。"""
    value = number(answer)
    if _near(value, -1.0):
        return None
    if _near(value, 1.5):
        return "それは y への勾配です（上流の勾配 × x）。x へは、相手の y を掛けます。"
    if _near(value, -2.0):
        return "局所的な勾配 ∂z/∂x = y だけです。上流から届いた勾配 0.5 も掛けます。"
    if _near(value, 0.5):
        return "足し算のノードのように、そのまま通しています。掛け算では相手の値を掛けます。"
    if _near(value, -6.0):
        return "x と y を掛けた値（順伝播の z）です。逆伝播では上流の勾配 × 相手の値です。"
    if _near(value, -3.0):
        return "上流の勾配 × z になっています。x へは、相手の値 y だけを掛けます。"
    return f"{value:g} ではありません。掛け算のノードは「上流の勾配 × 相手の値」を渡します。"


def check_sigmoid(answer: Any) -> Problem:
    """o = σ(q)（q = 0）、上流からの勾配 3 のとき ∂L/∂q。"""
    value = number(answer)
    if _near(value, 0.75):
        return None
    if _near(value, 0.25):
        return "σ(0)(1 − σ(0)) = 0.25 は局所的な勾配です。上流から届いた勾配 3 も掛けます。"
    if _near(value, 1.5):
        return "σ(0) = 0.5 に上流の勾配を掛けています。局所的な勾配は σ(q)(1 − σ(q)) です。"
    if _near(value, 0.5):
        return "それは順伝播の出力 σ(0) です。逆伝播では σ(0)(1 − σ(0)) に上流の勾配 3 を掛けます。"
    if _near(value, 3.0):
        return "そのまま通しています。シグモイドでは σ(q)(1 − σ(q)) を掛けます。"
    return f"{value:g} ではありません。σ(0) を計算してから σ(0)(1 − σ(0)) × 3 を求めましょう。"


def check_default_std(answer: Any) -> Problem:
    value = number(answer, "標準偏差")
    if _near(value, DEFAULT_STD, rel_tol=0.015):  # 重み 1 回分を測った値（乱数で 1 % 弱ずれる）も通す
        return None
    mistakes = [(1 / math.sqrt(256), "それは一様分布の端（境界）1/√n_in です。U(−a, a) の標準偏差は a/√3 です。"),
                (math.sqrt(2 / 256), "それは He の初期化の標準偏差 √(2/n_in) です。PyTorch の既定はもっと小さい値です。"),
                (math.sqrt(2 / (256 + 128)), "それは Xavier の初期化の標準偏差です。PyTorch の既定の式を使います。"),
                (1 / math.sqrt(3 * 128), "n_in と n_out を取り違えています。nn.Linear(256, 128) の n_in は 256 です。"),
                (1 / (3 * 256), "分散 1/(3 n_in) を答えています。標準偏差はその平方根です。"),
                (1 / 256, "それは分散 1/n_in（LeCun）です。PyTorch の既定の一様分布から求めます。")]
    for wrong, message in mistakes:
        if _near(value, wrong):
            return message
    return (f"{value:g} ではありません。重みは U(−1/√n_in, 1/√n_in) から選ばれます。"
            "U(−a, a) の標準偏差は a/√3 です。")


def check_linear_backward(linear_backward: Any) -> Problem:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(5, 4, generator=g, requires_grad=True)  # 形がどれも違うので、取り違えは形でわかる
    W = torch.randn(4, 3, generator=g, requires_grad=True)
    b = torch.randn(3, generator=g, requires_grad=True)
    G = torch.randn(5, 3, generator=g)  # 上流から届いた ∂L/∂Z
    (X @ W + b).backward(G)  # 自動微分での正解
    usage = "linear_backward(X, W, b, G)"
    result = call(linear_backward, X.detach().clone(), W.detach().clone(), b.detach().clone(),
                  G.clone(), usage=usage)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        return f"(dX, dW, db) の 3 つを返してください（返されたもの: {describe(result)}）。"
    dX, dW, db = (tensor(value, f"返された {name}") for value, name in zip(result, ("dX", "dW", "db")))
    if dW.shape == (3, 4):
        return "dW の形が (3, 4) で、W の (4, 3) と逆です。X.T @ G の順に掛けましたか。"
    if dX.shape == (5, 4) and dW.shape == W.shape and db.shape == (5, 3):
        return "db の形が G と同じ (5, 3) です。バイアスはすべての行に足されたので、すべての行について縦に足し合わせます（dim=0）。"
    wrong = [(name, tuple(got.shape), tuple(want.shape))
             for name, got, want in [("dX", dX, X), ("dW", dW, W), ("db", db, b)] if got.shape != want.shape]
    if wrong:
        listed = "、".join(f"{name} が {got}（正しくは {want}）" for name, got, want in wrong)
        return f"形が違います: {listed}。勾配は元の値と同じ形になります。"
    if not torch.allclose(dW, W.grad, atol=1e-4):
        return "dW が自動微分の値と違います。dW = Xᵀ G です（掛け算の「相手の値」は X）。"
    if torch.allclose(db, b.grad / len(X), atol=1e-4):
        return "db が行数で割られています。平均ではなく、すべての行について縦に足した和です。"
    if not torch.allclose(db, b.grad, atol=1e-4):
        return "db が自動微分の値と違います。G をすべての行について縦に（dim=0 で）足し合わせます。"
    if not torch.allclose(dX, X.grad, atol=1e-4):
        return "dX が自動微分の値と違います。dX = G Wᵀ です（W の転置を右から掛ける）。"
    return None


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "掛け算のノードの逆伝播", check_multiply,
            ["掛け算のノード z = x·y は、x へ「上流の勾配 × y」を、y へ「上流の勾配 × x」を渡します。",
             "0.5 × y を計算します（y = −2）。"],
            "∂L/∂x = 0.5 × y = 0.5 × (−2) = −1",
            expects="勾配の値（数 1 つ）"),
        "q2": Exercise(
            "シグモイドのノードの逆伝播", check_sigmoid,
            ["シグモイドの局所的な勾配は σ(q)(1 − σ(q)) です。",
             "σ(0) = 0.5 なので、局所的な勾配は 0.5 × 0.5 です。上流の勾配 3 を掛けます。"],
            "σ(0) = 0.5、局所的な勾配 0.5 × (1 − 0.5) = 0.25、上流の 3 を掛けて 0.75",
            expects="勾配の値（数 1 つ）"),
        "q3": Exercise(
            "nn.Linear(256, 128) の重みの既定の標準偏差", check_default_std,
            ["PyTorch の既定では、重みは一様分布 U(−1/√n_in, 1/√n_in) から選ばれます。n_in = 256 です。",
             "一様分布 U(−a, a) の分散は a²/3、標準偏差は a/√3 です。"],
            "a = 1/√256 = 1/16、標準偏差 = a/√3 = 1/√(3 × 256) ≈ 0.0361\n"
            "nn.Linear(256, 128).weight.std() でも、ほぼ同じ値になります（乱数なので少しずれます）。",
            expects="標準偏差（数 1 つ）"),
        "q4": Exercise(
            "全結合層の逆伝播", check_linear_backward,
            ["Z = X @ W + b で、上流から G = ∂L/∂Z が届きます。勾配は元の値と同じ形です"
             "（dX は X と、dW は W と、db は b と同じ）。",
             "dW は (n_in, n_out) なので X.T @ G、dX は (B, n_in) なので G @ W.T です。",
             "db は、バイアスが全部の行に足されたので G.sum(dim=0) です。"],
            "def linear_backward(X, W, b, G):\n    dX = G @ W.T\n    dW = X.T @ G\n"
            "    db = G.sum(dim=0)\n    return dX, dW, db",
            expects="関数 linear_backward そのもの（かっこなし）"),
    }
