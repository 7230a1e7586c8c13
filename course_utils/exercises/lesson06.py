"""06 Vision Transformer（notebooks/06_vision_transformer.ipynb）の演習: トークン数、自己注意層の
パラメータ数、画像をパッチに切る関数（q4 以降は実験なので、ノートブックの解答例で確かめる）。"""

from __future__ import annotations

from typing import Any

import torch

from .core import Exercise, Problem, call, count, tensor


def check_patchify(patchify: Any) -> Problem:
    X = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    for p in (7, 4):
        expected = X.unfold(2, p, p).unfold(3, p, p).reshape(2, (28 // p) ** 2, p * p)
        patches = tensor(call(patchify, X, p, usage="patchify(X, p)"), "patchify が返した値")
        if patches.shape != expected.shape:
            return (f"パッチの大きさ {p} で形が {tuple(patches.shape)} です。"
                    f"(バッチ, パッチの数, 1 パッチの画素数) = {tuple(expected.shape)} のはずです。")
        if not torch.equal(patches, expected):
            if torch.equal(patches, X.reshape(2, -1).reshape(expected.shape)):
                return ("形は合っていますが、画素を前から順に区切っているだけです。"
                        "1 つのパッチは縦横 p × p の正方形です。")
            return (f"パッチの大きさ {p} で中身が違います。パッチは左上から右へ、"
                    "行ごとに並べ、1 パッチの中も行ごとに並べます。")
    return None


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "パッチの大きさ 4 のトークン数", count(50, {
                49: "パッチの数は合っています。[CLS] トークンも 1 つ足します。",
                16: "それはパッチの大きさ 7 のときのパッチの数です。",
                17: "それはパッチの大きさ 7 のときのトークン数です。",
                7: "28 / 4 = 7 は 1 辺のパッチの数です。縦と横を掛けます。",
                8: "1 辺のパッチの数に [CLS] を足しています。パッチの数は縦 × 横です。"}),
            ["1 辺に並ぶパッチの数は 28 / パッチの大きさ です。",
             "パッチの数は縦 × 横、そこに [CLS] トークンを 1 つ足します。"],
            "(28 / 4) × (28 / 4) + 1 = 49 + 1 = 50",
            expects="トークンの数（整数 1 つ）"),
        "q2": Exercise(
            "自己注意層（dim 64）のパラメータ数", count(16640, {
                12480: "Q・K・V を作る層だけを数えています。最後の出力の線形層も足します。",
                16384: "重みだけを数えています。バイアスも足します。",
                4160: "出力の線形層だけです。Q・K・V を作る層（出力 3 × 64）も足します。",
                12288: "Q・K・V の重みだけです。バイアスと出力の線形層も足します。"}),
            ["SelfAttention は qkv = nn.Linear(64, 3 × 64) と proj = nn.Linear(64, 64) を持ちます。",
             "nn.Linear(a, b) のパラメータは a × b + b 個です。ヘッドの数は関係ありません。"],
            "(64 × 192 + 192) + (64 × 64 + 64) = 12480 + 4160 = 16640",
            expects="パラメータの数（整数 1 つ）"),
        "q3": Exercise(
            "画像をパッチに切る関数", check_patchify,
            ["X.unfold(2, p, p) は高さの方向に、大きさ p・間隔 p の窓を切り出します。",
             "X.unfold(2, p, p).unfold(3, p, p) の形は (B, 1, 28/p, 28/p, p, p) です。",
             "最後に reshape(B, (28 // p) ** 2, p * p) で (B, パッチの数, 画素数) にします。"],
            "def patchify(X, p):\n    B = len(X)\n"
            "    return X.unfold(2, p, p).unfold(3, p, p).reshape(B, (28 // p) ** 2, p * p)",
            expects="関数 patchify そのもの（かっこなし）"),
    }
