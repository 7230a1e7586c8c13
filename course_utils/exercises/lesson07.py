"""07 事前学習済みモデル（notebooks/07_pretrained_models.ipynb）の演習: 前処理の大きさ、重みの大きさ、
ロジットから top-k（q4 以降は実験なので、ノートブックの解答例で確かめる）。"""

from __future__ import annotations

from typing import Any

import torch

from .core import Exercise, Problem, call, count, describe, number, tensor

VIT_B16_PARAMS = 86_567_656  # timm の vit_base_patch16_224 のパラメータ数


def _rounds_to(value: float, exact: float) -> bool:
    """value が exact を整数か、それより細かい桁で丸めた値か（差が 0.5 以下）。"""
    return abs(value - exact) <= 0.5


def check_vit_fp16_mb(answer: Any) -> Problem:
    value = number(answer, "重みの大きさ（MB）")
    expected = VIT_B16_PARAMS * 2 / 1e6  # 173.135312
    if _rounds_to(value, expected):  # 173、173.1、173.14 など、どの桁で丸めても正解
        return None
    if abs(value - expected) <= 0.01 * expected:
        return (f"{value:g} MB は近く、式は合っていそうです。丸め方が違います。切り上げや切り捨てではなく、"
                "計算した値を四捨五入してください（整数か、小数第 1 位まで）。")
    if _rounds_to(value, VIT_B16_PARAMS * 4 / 1e6):
        return "それは float32（1 個 4 バイト）の大きさです。float16 は 1 個 2 バイトです。"
    if _rounds_to(value, VIT_B16_PARAMS * 2 / 2**20):
        return "2²⁰ バイトで割っています（MiB）。ここでは 1 MB = 10⁶ バイトで答えます。"
    if _rounds_to(value, VIT_B16_PARAMS / 1e6):
        return "それはパラメータ数（百万単位）です。1 個あたりのバイト数を掛けます。"
    if abs(value - VIT_B16_PARAMS * 2) <= 1e6:
        return "それはバイト数のままです。10⁶ で割ると MB になります。"
    if abs(value - expected / 1000) <= 0.001:
        return "それは GB（10⁹ バイト）での大きさです。MB（10⁶ バイト）で答えます。"
    return f"{value:g} MB ではありません。パラメータ数 × 2 バイト ÷ 10⁶ です。"


def check_top_k_from_logits(function: Any) -> Problem:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1000, generator=generator) * 3
    expected = torch.softmax(logits, dim=1).topk(5, dim=1)
    result = call(function, logits, 5, usage="top_k_from_logits(logits, k)")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return f"(確率, クラス番号) の 2 つを返してください（返されたもの: {describe(result)}）。"
    probs, indices = tensor(result[0], "返された確率"), tensor(result[1], "返されたクラス番号")
    if probs.shape != (3, 5) or indices.shape != (3, 5):
        return (f"形が {tuple(probs.shape)} と {tuple(indices.shape)} です。"
                "3 枚・k = 5 なら、どちらも (3, 5) のはずです。")
    raw = logits.topk(5, dim=1)
    if torch.equal(indices, raw.indices.float()) and torch.allclose(probs, raw.values):
        return "ロジットの値をそのまま返しています。ソフトマックスで確率にしてから選びます。"
    if not torch.equal(indices, expected.indices.float()):
        if torch.equal(indices, torch.softmax(logits, dim=0).topk(5, dim=1).indices.float()):
            return "ソフトマックスを画像の方向（dim=0）にかけています。クラスの方向（dim=1）にかけます。"
        return "クラス番号が違います。確率の高い順に 5 つ選べているか確かめてください。"
    if not torch.allclose(probs, expected.values, atol=1e-5):
        if torch.allclose(probs, expected.values * 100, atol=1e-3):
            return "% にしています。0〜1 の確率のまま返してください。"
        return "番号は合っていますが、確率が違います。ソフトマックスを 1,000 クラスの方向にかけます。"
    return None


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "ConvNeXt-T の前処理で短い辺をそろえる大きさ", count(256, {
                224: "224 は切り抜いた後の大きさです。切り抜く前は、それより大きくします。",
                196: "224 × 0.875 を計算しています。224 を crop_pct で割ります。",
                255: "224 / 0.875 = 256 です（割り切れます）。",
                257: "224 / 0.875 = 256 です（割り切れます）。"}),
            ["crop_pct は、そろえた短い辺のうち、切り抜いて残す割合です。",
             "短い辺 = 入力の大きさ ÷ crop_pct を、小数点以下を切り捨てて整数にします。"],
            "224 / 0.875 = 256。print(transforms[\"ConvNeXt-T\"]) の Resize(size=256) で確かめられます。",
            expects="短い辺の画素数（整数 1 つ）"),
        "q2": Exercise(
            "ViT-B/16 の重みの大きさ（float16）", check_vit_fp16_mb,
            ["ViT-B/16 のパラメータ数は 86,567,656 個です。",
             "float16 は 1 個 2 バイトです。バイト数を 10⁶ で割ると MB です。"],
            "86,567,656 × 2 / 10⁶ ≈ 173.1 MB（float32 なら 346.3 MB）",
            expects="MB の数（数 1 つ）"),
        "q3": Exercise(
            "ロジットから top-k", check_top_k_from_logits,
            ["まず torch.softmax(logits, dim=1) で、画像ごとに 1,000 クラスの確率にします。",
             "テンソルの .topk(k, dim=1) は、値の大きい順に (値, 番号) を返します。"],
            "def top_k_from_logits(logits, k):\n"
            "    top = torch.softmax(logits, dim=1).topk(k, dim=1)\n"
            "    return top.values, top.indices",
            expects="関数 top_k_from_logits そのもの（かっこなし）"),
    }
