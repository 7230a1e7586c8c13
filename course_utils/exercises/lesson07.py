"""07 転移学習（notebooks/07_transfer_learning.ipynb）の演習: EfficientNet-Lite0 の特徴の長さ、
4 と 9 の線形分類器のパラメータ数、分類の層だけを学習させる関数（q4 以降は実験なので、
ノートブックの解答例で確かめる）。"""

from __future__ import annotations

import functools
from typing import Any

from torch import nn

from .core import Exercise, Problem, call, count

MODEL_NAME = "tf_efficientnet_lite0"  # timm の名前（06 と同じ EfficientNet-Lite0）
FEATURES = 1280  # 分類の層の直前の特徴の長さ（model.num_features）
PROBE_PARAMS = FEATURES + 1  # 特徴 → ロジット 1 つの nn.Linear（重み + バイアス）
IMAGENET_HEAD = 1000 * FEATURES + 1000  # ImageNet の 1,000 クラスの分類の層
USAGE = "freeze_except_head(model)"

POOLING = ("位置ごとの値まで数えています。分類の層の手前にある全体の平均プーリング"
           "（global average pooling）が縦横の位置を平均してまとめるので、位置の数は掛けません。")
NEW_TASK = "それは新しい課題（4 と 9）の出力の数です。求めるのは、分類の層に入る直前の特徴の長さです。"
IMAGENET = ("それは ImageNet の 1,000 クラスの分類の層のパラメータ数です。4 と 9 では、"
            "ロジット 1 つの層に取り替えます。")

FEATURE_MISTAKES = {
    1000: ("1,000 は ImageNet のクラスの数で、分類の層の出力の長さです。求めるのは、分類の層に入る"
           "直前の特徴の長さです。"),
    320: ("320 は最後のブロックの出力のチャンネル数です。そのあと 1×1 の畳み込み（conv_head）で"
          "チャンネルを広げてから、分類の層に渡します。"),
    1: NEW_TASK, 2: NEW_TASK,
    224: "224 は入力画像の 1 辺の画素数です。求めるのは、分類の層に入る直前の特徴の長さです。",
    FEATURES + 1: "バイアスまで数えています。特徴の長さは、分類の層に入るベクトルの要素の数です。",
    7 * 7 * 320: POOLING,
    **{FEATURES * side * side: POOLING for side in range(2, 15)},
}

PROBE_MISTAKES = {
    FEATURES: "バイアスを忘れています。nn.Linear には重みのほかに、出力 1 つにつきバイアスが 1 つあります。",
    2 * (FEATURES + 1): ("それは 2 出力（ロジット 2 つ）の線形分類器の数です。ここでは 04 と同じく、"
                         "ロジット 1 つと BCEWithLogitsLoss で 2 クラスを分けます。"),
    2 * FEATURES: "2 出力の重みだけを数えています。ここではロジット 1 つで、バイアスも数えます。",
    IMAGENET_HEAD: IMAGENET, 1000 * FEATURES: IMAGENET, 1001 * FEATURES: IMAGENET,
    1: "1 は出力の数です。重みは入力の特徴 1 つにつき 1 個あります。",
}


def _state(model: nn.Module) -> tuple[set[str], set[str], set[str]]:
    """(学習するパラメータの名前, 分類の層のパラメータの名前, すべての名前) を返す。"""
    head = {id(p) for p in model.get_classifier().parameters()}
    names = dict(model.named_parameters())
    trainable = {n for n, p in names.items() if p.requires_grad}
    return trainable, {n for n, p in names.items() if id(p) in head}, set(names)


def _first(names: set[str]) -> str:
    return sorted(names)[0]


def check_freeze_except_head(function: Any) -> Problem:
    if isinstance(function, nn.Module):
        return ("モデルではなく、モデルを受け取って書き換える関数そのもの（名前だけ、かっこなし）を"
                "渡してください。check(freeze_except_head) のように渡します。")
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
    body = everything - head
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
        return ("どのパラメータも学習するままです。渡されたモデルのパラメータの requires_grad を "
                "False にしてください。")
    if not trainable:
        return ("分類の層まで凍結しています。それでは何も学習しません。分類の層のパラメータは"
                "学習するままにします。")
    if trainable == body:
        return "逆になっています。分類の層が凍結され、それ以外が学習するままです。"
    if not head <= trainable:
        return f"分類の層のパラメータの一部（{_first(head - trainable)} など）が凍結されています。"
    if trainable - head:
        left = trainable - head
        return (f"分類の層のほかにも、学習するままのパラメータ（テンソル）が {len(left)} 個"
                f"（{_first(left)} など）残っています。重みだけでなく、バイアスや BatchNorm の"
                "パラメータも凍結します。")
    return ("分類の層の形が変わっています。この問題では分類の層は取り替えずに、どのパラメータが"
            "学習するかだけを変えます。")


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "EfficientNet-Lite0 の特徴の長さ", count(FEATURES, FEATURE_MISTAKES),
            ["分類の層（model.get_classifier()）の入力の大きさが、特徴の長さです。",
             "最後のブロックのあと、1×1 の畳み込み conv_head と全体の平均プーリングを通ってから"
             "分類の層に入ります。print(model.conv_head) で出力のチャンネル数が分かります。"],
            "x = torch.zeros(1, 3, 224, 224)\n"
            "features = model.forward_head(model.forward_features(x), pre_logits=True)\n"
            "features.shape[1]  # = model.num_features = 1280",
            expects="特徴の長さ（整数 1 つ）"),
        "q2": Exercise(
            "4 と 9 の線形分類器のパラメータ数", count(PROBE_PARAMS, PROBE_MISTAKES),
            ["特徴の長さ（q1）から、ロジット 1 つへの nn.Linear です（04 と同じ 1 出力）。",
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
