"""08 転移学習（notebooks/08_transfer_learning.ipynb）の演習: 64×64 の入力での forward_features の形、
4 と 9 の線形分類器のパラメータ数、分類の層だけを学習させる関数（q4 以降はノートブックの解答例で確かめる）。"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import nn

from .core import AnswerProblem, Exercise, Problem, call, count, describe, shape

MODEL_NAME = "tf_efficientnet_lite0"  # timm の名前（07 と同じ EfficientNet-Lite0）
FEATURES = 1280  # 分類の層の直前の特徴の長さ（model.num_features）
PROBE_PARAMS = FEATURES + 1  # 特徴 → ロジット 1 つの nn.Linear（重み + バイアス）
IMAGENET_HEAD = 1000 * FEATURES + 1000  # ImageNet の 1,000 クラスの分類の層
USAGE = "freeze_except_head(model)"

SIZE = 64  # 08 で MNIST を拡大する大きさ。縦横はストライド 2 の 5 回で 1/32 になる
HALVES = "最初の畳み込み（conv_stem）と 4 つの段がそれぞれストライド 2 で縦横を半分にし、全体で 1/32 になります。"
POOLED = "それは全体の平均プーリング（forward_head の中）の後の形です。forward_features では縦横の位置が残ります。"
CHANNELS = {320: "320 は最後のブロックの出力のチャンネル数です。そのあと 1×1 の畳み込み conv_head が広げます。",
            1000: "1,000 は ImageNet のクラスの数です。forward_features は分類の層の手前（conv_head）までです。"}
SIDES = {7: "7×7 は 224×224 の入力（ImageNet の学習のときの大きさ）での形です。ここでの入力は 64×64 です。",
         1: f"1×1 は 28×28 の入力での形です（28 / 32 を切り上げて 1）。{HALVES}", SIZE: f"縦横が 64 のままです。{HALVES}"}
IMAGENET = ("それは ImageNet の 1,000 クラスの分類の層のパラメータ数です。4 と 9 では、"
            "ロジット 1 つの層に取り替えます。")

PROBE_MISTAKES = {
    FEATURES: "バイアスを忘れています。nn.Linear には重みのほかに、出力 1 つにつきバイアスが 1 つあります。",
    2 * (FEATURES + 1): ("それは 2 出力（ロジット 2 つ）の線形分類器の数です。ここでは 05 と同じく、"
                         "ロジット 1 つと BCEWithLogitsLoss で 2 クラスを分けます。"),
    2 * FEATURES: "2 出力の重みだけを数えています。ここではロジット 1 つで、バイアスも数えます。",
    IMAGENET_HEAD: IMAGENET, 1000 * FEATURES: IMAGENET, 1001 * FEATURES: IMAGENET,
    1: "1 は出力の数です。重みは入力の特徴 1 つにつき 1 個あります。",
}


def check_features_shape(answer: Any) -> Problem:
    if not isinstance(answer, (tuple, list, torch.Size, torch.Tensor)) and getattr(answer, "ndim", 0) != 1:
        pooled = POOLED if isinstance(answer, (int, float, np.number)) and answer == FEATURES else ""
        raise AnswerProblem(f"{pooled}形は (チャンネル, 高さ, 幅) の 3 つの整数のタプルで答えてください"
                            f"（渡されたもの: {describe(answer)}）。")
    out = shape(answer, "形")
    if out in ((FEATURES,), (1, FEATURES)):
        return POOLED
    if len(out) != 3:
        right = "バッチの次元のほかは合っています。" if out == (1, FEATURES, SIZE // 32, SIZE // 32) else ""
        return f"{right}バッチの次元を除いた (チャンネル, 高さ, 幅) の 3 つで答えてください（渡されたのは {len(out)} 個）。"
    channels, height, width = out
    if channels != FEATURES:
        return "PyTorch の形はチャンネルが先の (チャンネル, 高さ, 幅) です。" if width == FEATURES else CHANNELS.get(
            channels, f"チャンネル数 {channels:,} が違います。最後の 1×1 の畳み込み conv_head の出力の数です。")
    if height == width and (height == SIZE // 32 or height in SIDES):
        return SIDES.get(height)  # 正解なら None
    ratio = f"1/{SIZE // height} ではなく、" if 0 < height < SIZE and SIZE % height == 0 else ""
    return f"縦横 {height}×{width} が違います。{ratio}{HALVES}"


def _state(model: nn.Module) -> tuple[set[str], set[str], set[str]]:
    """(学習するパラメータの名前, 分類の層のパラメータの名前, すべての名前) を返す。"""
    head = {id(p) for p in model.get_classifier().parameters()}
    names = dict(model.named_parameters())
    trainable = {n for n, p in names.items() if p.requires_grad}
    return trainable, {n for n, p in names.items() if id(p) in head}, set(names)


def check_freeze_except_head(function: Any) -> Problem:
    if isinstance(function, nn.Module):
        return "モデルではなく、モデルを受け取って書き換える関数そのもの（名前だけ、かっこなし）を渡してください。check(freeze_except_head) のように渡します。"
    if isinstance(function, type) or not callable(function):
        call(function, None, usage=USAGE)  # core の日本語の文で断る（関数ではないので呼ばれない）
    import timm  # 読み込みに数秒かかるので、この問題を調べるときだけ import する

    model = timm.create_model(MODEL_NAME, pretrained=False, num_classes=1).train()

    @functools.wraps(function)
    def keep_what_it_got(given: nn.Module) -> tuple[nn.Module, Any]:
        # call は引数の写しを渡すので、学習者の関数が受け取ったモデルそのものを持ち帰る
        return given, function(given)

    keep_what_it_got.__name__ = getattr(function, "__name__", type(function).__name__)
    given, result = call(keep_what_it_got, model, usage=USAGE)
    trainable, head, everything = _state(given)
    head_size = sum(p.numel() for p in given.get_classifier().parameters())
    if trainable == head and head_size == PROBE_PARAMS:
        return None
    if trainable == everything:
        frozen_elsewhere = isinstance(result, nn.Module) and not all(
            p.requires_grad for p in result.parameters())
        if frozen_elsewhere and result is not given:
            return ("新しいモデルを作って返しています（copy.deepcopy など）。ノートブックでは返り値を"
                    "使わないので、渡されたモデルそのもののパラメータを書き換えてください。")
        if given.__dict__.get("requires_grad") is False:
            return ("model.requires_grad = False は、モデルに同じ名前の属性を足すだけで、パラメータは"
                    "凍結されません。.requires_grad_(False)（末尾に _）を呼ぶか、パラメータ 1 つずつの "
                    "requires_grad を False にします。")
        if not given.training:
            return ("model.eval() は BatchNorm と Dropout のふるまいを変えるだけで、勾配は計算され続けます。"
                    "凍結するには、パラメータの requires_grad を False にします。")
        return "どのパラメータも学習するままです。渡されたモデルのパラメータの requires_grad を False にしてください。"
    if not trainable:
        return "分類の層まで凍結しています。それでは何も学習しません。分類の層のパラメータは学習するままにします。"
    if trainable == everything - head:
        return "逆になっています。分類の層が凍結され、それ以外が学習するままです。"
    if not head <= trainable:
        return f"分類の層のパラメータの一部（{min(head - trainable)} など）が凍結されています。"
    if trainable - head:
        left = trainable - head
        return (f"分類の層のほかにも、学習するままのパラメータ（テンソル）が {len(left)} 個"
                f"（{min(left)} など）残っています。重みだけでなく、バイアスや BatchNorm の"
                "パラメータも凍結します。")
    return "分類の層の形が変わっています。この問題では分類の層は取り替えずに、どのパラメータが学習するかだけを変えます。"


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "64×64 の入力での forward_features の形", check_features_shape,
            ["forward_features は平均プーリングの手前までです。縦横は conv_stem と 4 つの段がそれぞれ"
             "ストライド 2 で半分にし、全部で 5 回なので 1/32 になります。",
             "チャンネルは、最後のブロックの 320 を 1×1 の畳み込み conv_head が広げた数です"
             "（print(backbone.conv_head)）。"],
            "(1280, 2, 2)。backbone.forward_features(torch.zeros(1, 3, 64, 64, device=device)).shape[1:]\n"
            "縦横は全体で 1/32（64 / 32 = 2）、チャンネルは conv_head が 320 から 1280 に広げる。28×28 の"
            "ままだと 1×1（28 / 32 を切り上げ）になるので、08 では MNIST を 64×64 に拡大する。",
            expects="形（(チャンネル, 高さ, 幅) の 3 つの整数のタプル）"),
        "q2": Exercise(
            "4 と 9 の線形分類器のパラメータ数", count(PROBE_PARAMS, PROBE_MISTAKES),
            ["特徴の長さ（backbone.num_features）から、ロジット 1 つへの nn.Linear です（05 と同じ 1 出力）。",
             "nn.Linear(入力, 出力) のパラメータ数は 入力 × 出力 + 出力（バイアス）です。"],
            "1280 × 1 + 1 = 1,281。sum(p.numel() for p in nn.Linear(1280, 1).parameters()) で"
            "確かめられます。",
            expects="パラメータ数（整数 1 つ）"),
        "q3": Exercise(
            "分類の層のほかを凍結する関数", check_freeze_except_head,
            ["パラメータの requires_grad を False にすると、勾配が計算されず、学習で変わらなくなります。"
             "model.parameters() で全部を、model.get_classifier() で分類の層を取り出せます。",
             "まず全部を凍結し、それから分類の層だけを学習するように戻す、の 2 段階で書けます。"
             "model.eval() は凍結しません（BatchNorm と Dropout のふるまいが変わるだけです）。",
             "nn.Module の .requires_grad_(False)（末尾に _）は、中のパラメータをまとめて凍結します。"
             "model.requires_grad = False と書くと、属性が増えるだけです。"],
            "def freeze_except_head(model):\n"
            "    model.requires_grad_(False)  # すべてのパラメータを凍結する\n"
            "    model.get_classifier().requires_grad_(True)  # 分類の層だけ学習する",
            expects="関数 freeze_except_head そのもの（かっこなし）"),
    }
