"""05 4 と 9（notebooks/05_four_vs_nine.ipynb）の演習: 多数派のベースライン、F1 値、2 出力の CNN
（q2 と q4 は説明を求める問題なので、ノートブックの解答例で確かめる）。"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .core import (Exercise, LearnerCodeError, Problem, call, describe, number, run_learner_code,
                   tensor)

TWO_LOGIT_PARAMS = 105_346  # 1 出力の CNN（105,281）の最後の層を nn.Linear(64, 2) にしたとき
DIVIDES_BY_ZERO = "「9」と 1 枚も判定しないとき 0 で割っています。その場合は 0 を返します。"


def check_majority_baseline(answer: Any) -> Problem:
    from course_utils.data import load_mnist  # 今のモード（クイックか通常か）のデータで確かめる

    value = number(answer, "ベースライン")
    if value > 1:
        return "0〜1 の割合で答えてください（% ではなく）。"
    if value < 0:
        return "割合は 0 以上です。"
    train, test = load_mnist(train=True), load_mnist(train=False)
    counts = {k: int((train.targets == k).sum()) for k in (3, 8)}
    major = max(counts, key=counts.get)
    keep = (test.targets == 3) | (test.targets == 8)
    expected = float((test.targets[keep] == major).float().mean())
    if abs(value - expected) < 1e-3:
        return None
    if abs(value - (1 - expected)) < 1e-3:
        return "それは少ないほうのクラスの割合です。多数派は訓練データで決めます。"
    if abs(value - 0.5) < 1e-3:
        return "0.5 は当て推量のベースラインです。いつも多いほうのクラスと答えたときを考えます。"
    return "値が違います。多数派を訓練データで決め、テストデータの 3 と 8 の中でその割合を求めます。"


def f1_reference(y: torch.Tensor, y_hat: torch.Tensor) -> float:
    tp = int(((y_hat == 1) & (y == 1)).sum())
    fp = int(((y_hat == 1) & (y == 0)).sum())
    fn = int(((y_hat == 0) & (y == 1)).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def check_f1(f1_score: Any) -> Problem:
    cases = [(torch.tensor([1, 1, 0, 0, 1]), torch.tensor([1, 0, 0, 1, 1])),
             (torch.tensor([1, 1, 1, 0]), torch.tensor([1, 1, 1, 1])),
             (torch.tensor([0, 1, 0, 1]), torch.tensor([0, 0, 0, 0]))]
    for i, (y, y_hat) in enumerate(cases):
        try:
            result = call(f1_score, y, y_hat, usage="f1_score(y, y_pred)")
        except LearnerCodeError as error:
            if isinstance(error.original, ZeroDivisionError):  # Python の数で割ると 0 で割れずに止まる
                return (f"y={y.tolist()}, y_pred={y_hat.tolist()} で ZeroDivisionError になりました。"
                        + DIVIDES_BY_ZERO)
            raise
        value = number(result, "f1_score が返した値", allow_nan=True)
        if i == 2:  # 「9」と 1 枚も判定しない
            if value != value or value != 0.0:  # nan は自分自身と等しくない
                return DIVIDES_BY_ZERO
        elif abs(value - f1_reference(y, y_hat)) > 1e-6:
            recall = float(((y_hat == 1) & (y == 1)).sum() / (y == 1).sum())
            if abs(value - recall) < 1e-6:
                return "再現率を返しています。F1 は適合率と再現率の調和平均です。"
            return (f"y={y.tolist()}, y_pred={y_hat.tolist()} で {value:.3f} になりました。"
                    "調和平均 2PR / (P + R) になっていますか。")
    return None


def check_two_logit_model(model: Any) -> Problem:
    if not isinstance(model, nn.Module):
        return f"nn.Module（モデル）を渡してください（渡されたもの: {describe(model)}）。"
    count = sum(p.numel() for p in model.parameters())
    if count > 100 * TWO_LOGIT_PARAMS:  # 大きすぎるモデルは写しを作らずに断る
        return f"パラメータ数が {count:,} です。1 出力の CNN（105,281）の最後の層だけを変えたモデルにします。"
    model = copy.deepcopy(model).cpu().eval()  # 学習者のモデルは GPU のまま・学習モードのままにしておく

    def forward(x: torch.Tensor) -> Any:
        with torch.no_grad():
            return model(x)

    out = run_learner_code(forward, (torch.zeros(3, 1, 28, 28),),
                           "モデルに形 (3, 1, 28, 28) の入力を通す")
    out = tensor(out, "モデルの出力")
    if tuple(out.shape) != (3, 2):
        return f"出力の形が {tuple(out.shape)} です。2 出力なら (B, 2) になるはずです。"
    if count != TWO_LOGIT_PARAMS:
        return (f"パラメータ数が {count:,} です。最後の層以外は 1 出力の CNN（105,281）と"
                "同じにすると、最後の層の分だけ増えた数になるはずです。")
    return None


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "3 と 8 の多数派のクラスのベースライン", check_majority_baseline,
            ["load_mnist(train=True).targets から 3 と 8 の枚数を数え、多いほうを多数派にします。",
             "テストデータは 3 と 8 だけに絞ってから、多数派のクラスの割合を求めます。",
             "keep = (test.targets == 3) | (test.targets == 8) で絞れます。"],
            "train, test = load_mnist(train=True), load_mnist(train=False)\n"
            "major = 3 if (train.targets == 3).sum() >= (train.targets == 8).sum() else 8\n"
            "keep = (test.targets == 3) | (test.targets == 8)\n"
            "baseline = (test.targets[keep] == major).float().mean().item()",
            expects="0〜1 の割合（数 1 つ）"),
        "q3": Exercise(
            "F1 値", check_f1,
            ["F1 値は適合率 P と再現率 R の調和平均 2PR / (P + R) です。",
             "TP・FP・FN で書くと 2TP / (2TP + FP + FN) になります。",
             "TP が 0 のときは 0 を返します（0 で割らないように）。"],
            "def f1_score(y, y_pred):\n    tp = int(((y_pred == 1) & (y == 1)).sum())\n"
            "    fp = int(((y_pred == 1) & (y == 0)).sum())\n"
            "    fn = int(((y_pred == 0) & (y == 1)).sum())\n"
            "    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)",
            expects="関数 f1_score そのもの（かっこなし）"),
        "q5": Exercise(
            "2 出力 + ソフトマックスの CNN", check_two_logit_model,
            ["make_cnn の最後の nn.Linear(64, 1) を nn.Linear(64, 2) にし、nn.Flatten(0) を外します。",
             "パラメータは最後の層の 64 + 1 = 65 個だけ増えます。"],
            "two = nn.Sequential(*list(make_cnn())[:-2], nn.Linear(64, 2)).to(device)\n"
            "two_history = fit(two, train_loader, val_loader, nn.CrossEntropyLoss(), "
            "torch.optim.Adam(two.parameters(), lr=1e-3), 40, device)\n"
            "# 1 出力の CNN と、検証正解率 two_history['val_acc'] で比べる",
            expects="2 出力の CNN（nn.Module）"),
    }
