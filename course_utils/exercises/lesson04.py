"""04 CNN（notebooks/04_cnn.ipynb）の演習: 畳み込みの出力の形、パラメータ数、受容野
（q4 以降は実験なので、ノートブックの解答例で確かめる）。"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .core import AnswerProblem, Exercise, Problem, count, describe, number, shape


def check_conv_shape(answer: Any) -> Problem:
    out = shape(answer, "出力の形")
    if len(out) != 4:
        return f"形は (バッチ, チャンネル, 高さ, 幅) の 4 つの数です（渡されたのは {len(out)} 個）。"
    if out[1] != 8:
        return "チャンネルの数が違います。出力のチャンネル数は nn.Conv2d の 2 つ目の引数です。"
    if out[2:] == (24, 24):
        return "ストライド 2 を忘れていませんか。"
    if out[2:] == (13, 13):
        return "床関数（切り捨て）を使った後に 1 を足していますか。"
    if out != (1, 8, 12, 12):
        return f"{out} ではありません。出力の大きさの式に H=28, K=5, P=0, S=2 を入れ直しましょう。"
    return None


def _side(answer: Any) -> float:
    """1 辺の画素数。8 のほか、測った (縦, 横) = (8, 8) も受け付ける。"""
    if isinstance(answer, (np.ndarray, torch.Tensor)) and answer.ndim == 1 and len(answer) == 2:
        answer = answer.tolist()
    if isinstance(answer, (tuple, list, torch.Size)) and len(answer) == 2:
        height, width = number(answer[0], "縦の画素数"), number(answer[1], "横の画素数")
        if height != width:
            raise AnswerProblem(f"縦 {height:g} と横 {width:g} が違います。1 辺の画素数を 1 つの数で"
                                "答えてください。")
        return height
    if isinstance(answer, (tuple, list, torch.Size)) and len(answer) > 2:
        raise AnswerProblem(f"受容野の 1 辺の画素数を、数 1 つで答えてください（渡されたもの: "
                            f"{describe(answer)}）。")
    return number(answer, "受容野の 1 辺")


def check_receptive_field(answer: Any) -> Problem:
    side = _side(answer)
    if side == 8:
        return None
    if side == 7:
        return ("7 は最大プーリング（nn.MaxPool2d）で測ったときの値です。最大プーリングは 2 × 2 の"
                "区画ごとに最大の 1 画素にしか勾配を流さない（入力が全部 0 なら区画の先頭の画素）ので、"
                "残りの画素が数えられません。問題のとおり nn.AvgPool2d(2) で測り直しましょう。")
    if side == 5:
        return ("5 はプーリングなしで 3 × 3 を 2 層重ねたときの値です。プーリングの後の 1 画素は、"
                "元の画像の 2 画素分に当たります。")
    if side == 6:
        return "プーリングの後の 3 × 3 を元の大きさに直した分だけです。1 層目の 3 × 3 の広がりも足します。"
    return f"{side:g} ではありません。receptive_field をまねて実際に測ってみましょう。"


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "畳み込みの出力の形", check_conv_shape,
            ["出力の大きさは ⌊(H + 2P − K) / S⌋ + 1 です。",
             "H = 28, K = 5, P = 0, S = 2 を入れます。チャンネル数は出力チャンネル数です。"],
            "⌊(28 − 5) / 2⌋ + 1 = 12 なので (1, 8, 12, 12)\n"
            "nn.Conv2d(1, 8, 5, stride=2)(torch.zeros(1, 1, 28, 28)).shape",
            expects="出力の形（(バッチ, チャンネル, 高さ, 幅) の 4 つの整数のタプル）"),
        "q2": Exercise(
            "nn.Conv2d(32, 64, 3) のパラメータ数", count(18496, {
                18432: "重みだけを数えています。出力チャンネルごとのバイアスも足します。",
                288: "カーネルは入力チャンネル × 出力チャンネルの組ごとにあります。",
                2368: "重みは C_out × C_in × K × K 個です（K は 2 乗します）。"}),
            ["重みの形は (C_out, C_in, K, K)、バイアスは C_out 個です。",
             "64 × 32 × 3 × 3 + 64 を計算します。"],
            "64 × 32 × 3 × 3 + 64 = 18496",
            expects="パラメータの数（整数 1 つ）"),
        "q3": Exercise(
            "プーリングをはさんだ 2 層の受容野", check_receptive_field,
            ["receptive_field と同じく、出力の中央の 1 画素を入力で微分し、勾配が 0 でない範囲を数えます。",
             "最大プーリングは勾配を 1 画素にしか流さないので、範囲を測るときは nn.AvgPool2d(2) を使います。",
             "プーリングの後の 3 × 3 は元の画像の 6 × 6 に当たります。そこに 1 層目の 3 × 3 が加わります。"],
            "8（8 × 8）: プーリング後の 3 × 3 が元の 6 × 6 に当たり、1 層目の 3 × 3 が両側へ 1 画素ずつ広げる。\n"
            "layers = [nn.Conv2d(1, 1, 3, padding=1, bias=False), nn.AvgPool2d(2),\n"
            "          nn.Conv2d(1, 1, 3, padding=1, bias=False)]\n"
            "for layer in layers[::2]:\n"
            "    nn.init.constant_(layer.weight, 1.0)\n"
            "x = torch.zeros(1, 1, 16, 16, requires_grad=True)\n"
            "nn.Sequential(*layers)(x)[0, 0, 4, 4].backward()  # 出力 8 × 8 の中央付近の 1 画素\n"
            "print((x.grad[0, 0] != 0).any(0).sum().item())  # 8\n"
            "nn.MaxPool2d(2) で測ると 7 になる: 最大プーリングは区画の 1 画素にしか勾配を流さないため。",
            expects="受容野の 1 辺の画素数（整数 1 つ）"),
    }
