"""学習曲線の診断 diagnose を、05 の実際の学習の記録と、症状ごとに作った記録で確かめる。"""

import json
import math

import numpy as np
import pytest
import torch

from conftest import ROOT
from course_utils.diagnosis import KIND_NAMES, diagnose, plot_diagnosis

FIXTURE = ROOT / "tests" / "fixtures" / "histories_05.json"


def history(train, val, val_acc, train_acc=None):
    return {"train_loss": train, "train_acc": train_acc or [0.99] * len(train),
            "val_loss": val, "val_acc": val_acc}


# --- 05 の実際の学習（scripts/record_histories_05.py が通常モードで記録したもの） -------------
# 判定は、05 の本文がその図について述べていることと同じでなければならない。
EXPECTED_05 = {
    "main": {"CNN 40 エポック": "overfitting"},
    "lr": {
        "小さすぎる: SGD、学習率 0.0001": "too_slow",
        "大きすぎる: Adam、学習率 1": "not_learning",
        "少し大きすぎる: Adam、学習率 0.1": "unstable",
        "修正: Adam、学習率 0.001": "still_improving",
    },
    "underfitting": {"小さすぎる: 幅 2 の MLP": "underfitting",
                     "修正: 幅 256 の MLP": "still_improving"},
    "memorizing": {"でたらめなラベル": "memorizing", "正しいラベル": "overfitting"},
    "labels": {"失敗: ラベルだけ並べ替えた": "at_baseline", "修正: 正しいラベル": "still_improving"},
    "overfitting": {
        "過学習: 200 枚": "overfitting",
        "データを増やす: 2,000 枚": "overfitting",
        "データ拡張": "still_improving",
        "ドロップアウト 0.5": "overfitting",
        "重み減衰 0.01": "overfitting",
        "早期終了（patience 5）": "converged",  # 検証損失が最小の 5 エポック後に止めた
    },
}


def recorded():
    return json.loads(FIXTURE.read_text())


def test_the_fixture_holds_every_run_of_05():
    records = recorded()
    for group, runs in EXPECTED_05.items():
        assert set(records[group]) == set(runs), group


@pytest.mark.parametrize("group, name, kind", [
    (group, name, kind) for group, runs in EXPECTED_05.items() for name, kind in runs.items()])
def test_verdicts_on_the_real_runs_of_05(group, name, kind):
    records = recorded()
    baseline = records["baseline_main"] if group == "main" else 0.5
    result = diagnose(records[group][name], baseline=baseline)
    assert result.kind == kind, f"{name}: {result}"


def test_the_fix_runs_are_not_called_the_failure_they_fix():
    records = recorded()
    assert diagnose(records["lr"]["修正: Adam、学習率 0.001"], 0.5).kind not in {
        "too_slow", "not_learning", "unstable"}
    assert diagnose(records["underfitting"]["修正: 幅 256 の MLP"], 0.5).kind != "underfitting"
    assert diagnose(records["labels"]["修正: 正しいラベル"], 0.5).kind not in {
        "at_baseline", "memorizing"}


# --- 症状ごとに作った記録 ---------------------------------------------------------------
TOO_SLOW = history([0.720 - 0.005 * e for e in range(10)], [0.715 - 0.005 * e for e in range(10)],
                   [0.60 + 0.007 * e for e in range(10)], train_acc=[0.60 + 0.004 * e for e in range(10)])
DEAD = history([558.0, 0.75, 0.70, 0.69, 0.69], [0.81] * 5, [0.50, 0.51, 0.50, 0.51, 0.50],
               train_acc=[0.50, 0.50, 0.51, 0.51, 0.51])
SHUFFLED_LABELS = history([0.699, 0.691, 0.685, 0.671, 0.658], [0.70, 0.70, 0.72, 0.72, 0.76],
                          [0.46, 0.56, 0.49, 0.47, 0.47], train_acc=[0.5, 0.55, 0.58, 0.60, 0.62])
MEMORIZED = history([0.70, 0.6, 0.3, 0.05, 0.001], [0.7, 0.75, 0.9, 1.2, 1.5],
                    [0.50, 0.57, 0.49, 0.51, 0.50], train_acc=[0.5, 0.7, 0.9, 0.99, 1.0])
UNSTABLE = history([4.7, 0.081, 0.061, 0.051, 0.041, 0.033, 0.028, 0.023, 0.030, 0.044],
                   [0.080, 0.054, 0.065, 0.047, 0.044, 0.050, 0.045, 0.042, 0.039, 0.055],
                   [0.98] * 10, train_acc=[0.9] + [0.985] * 9)
OVERFITTING = history([0.6, 0.2, 0.05, 0.01, 0.001, 0.0005, 0.0001],
                      [0.5, 0.2, 0.15, 0.16, 0.18, 0.20, 0.21], [0.8, 0.93, 0.95, 0.95, 0.95, 0.95, 0.95],
                      train_acc=[0.8, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0])
UNDERFITTING = history([0.53, 0.35, 0.30, 0.27, 0.25, 0.24], [0.39, 0.31, 0.28, 0.25, 0.23, 0.22],
                       [0.94, 0.95, 0.96, 0.97, 0.975, 0.975],
                       train_acc=[0.85, 0.94, 0.955, 0.96, 0.965, 0.97])
STILL_IMPROVING = history([0.5, 0.3, 0.2, 0.15, 0.12], [0.45, 0.3, 0.22, 0.18, 0.15],
                          [0.85, 0.9, 0.93, 0.94, 0.95])
CONVERGED = history([0.5, 0.1, 0.05, 0.04, 0.04, 0.04, 0.04, 0.04],
                    [0.2, 0.08, 0.075, 0.074, 0.075, 0.074, 0.075, 0.075], [0.975] * 8)


@pytest.mark.parametrize("h, kind", [
    (TOO_SLOW, "too_slow"),
    (DEAD, "not_learning"),
    (SHUFFLED_LABELS, "at_baseline"),
    (MEMORIZED, "memorizing"),
    (UNSTABLE, "unstable"),
    (OVERFITTING, "overfitting"),
    (UNDERFITTING, "underfitting"),
    (STILL_IMPROVING, "still_improving"),
    (CONVERGED, "converged"),
])
def test_each_symptom_is_recognised(h, kind):
    assert diagnose(h, baseline=0.5).kind == kind


def test_every_kind_has_a_japanese_name():
    assert all(KIND_NAMES[kind] for kind in KIND_NAMES)
    assert diagnose(OVERFITTING, 0.5).name == "過学習"


def test_overfitting_names_the_best_epoch_and_what_to_try():
    result = diagnose(OVERFITTING, baseline=0.5)
    assert result.best_epoch == 3
    text = str(result)
    assert "3 エポック目の 0.15 が最小" in text and "0.197" in text
    assert "4 エポック目あたりから" in text and "早期終了" in text


def test_a_dead_network_blames_a_too_large_learning_rate():
    result = diagnose(DEAD, baseline=0.5)
    assert "大きすぎて" in str(result) and "1/10 ずつ下げて" in str(result)
    assert result.best_epoch is not None  # 図に縦線を引ける


def test_baseline_check_needs_a_baseline():
    # ベースラインを渡さなければ、正解率がベースラインのままかは判定しない
    assert diagnose(SHUFFLED_LABELS).kind not in {"at_baseline", "memorizing"}


def test_a_lucky_epoch_above_the_baseline_does_not_hide_it():
    # 100 エポックのうち数エポックだけ偶然 56 % を超えても、後半の中央値で判定する
    acc = [0.50, 0.568, 0.47, 0.568, 0.49, 0.568] + [0.50, 0.51, 0.49, 0.50] * 5
    h = history([0.7 * 0.9 ** e for e in range(26)], [0.7 + 0.02 * e for e in range(26)], acc,
                train_acc=[min(1.0, 0.5 + 0.05 * e) for e in range(26)])
    assert diagnose(h, baseline=0.5).kind == "memorizing"


@pytest.mark.parametrize("epochs", [1, 2])
def test_too_few_epochs_are_not_judged(epochs):
    # 1 エポックで 97 % でも「訓練損失が下がらない」とは言わない
    h = history([0.10, 0.05][:epochs], [0.08, 0.06][:epochs], [0.97, 0.98][:epochs],
                train_acc=[0.96, 0.98][:epochs])
    result = diagnose(h, baseline=0.5)
    assert result.kind == "too_short" and "3 エポック以上" in str(result)


def test_the_baseline_may_be_a_percent_or_a_numpy_number():
    good = history([0.3, 0.2, 0.15, 0.12, 0.1], [0.25, 0.2, 0.17, 0.15, 0.14],
                   [0.92, 0.93, 0.935, 0.94, 0.94], train_acc=[0.9, 0.93, 0.94, 0.95, 0.99])
    kinds = {diagnose(good, baseline=b).kind
             for b in (0.5, 50, np.float32(0.5), np.int64(50), torch.tensor(0.5))}
    assert kinds == {"still_improving"}
    assert diagnose(SHUFFLED_LABELS, baseline=50).kind == "at_baseline"


@pytest.mark.parametrize("convert", [list, np.array, torch.tensor,
                                     lambda v: [np.float32(x) for x in v],
                                     lambda v: [torch.tensor(x) for x in v]],
                         ids=["list", "numpy", "tensor", "numpy-scalars", "tensor-scalars"])
def test_histories_may_be_lists_arrays_or_tensors(convert):
    h = {key: convert(values) for key, values in OVERFITTING.items()}
    result = diagnose(h, baseline=0.5)
    assert result.kind == "overfitting" and result.best_epoch == 3


def test_accuracy_recorded_in_percent_is_understood():
    h = dict(OVERFITTING, val_acc=[a * 100 for a in OVERFITTING["val_acc"]],
             train_acc=[a * 100 for a in OVERFITTING["train_acc"]])
    assert diagnose(h, baseline=0.5).kind == "overfitting"


@pytest.mark.parametrize("bad, message", [
    ({"train_loss": [0.5, 0.4, 0.3], "train_acc": [0.8] * 3}, "val_loss, val_acc がありません"),
    ({"train_loss": [0.5] * 3, "val_loss": [0.5] * 3}, "val_acc がありません"),
    ({"val_loss": [0.5] * 3, "val_acc": [0.5] * 3}, "train_loss がありません"),
    (history([0.5, 0.4, 0.3, 0.2], [0.5, 0.4, 0.3], [0.8, 0.8, 0.8]), "長さがそろっていません"),
    (history([], [], []), "空です"),
    (history([0.5, "0.4", 0.3], [0.5] * 3, [0.8] * 3), "数でないもの"),
    (history([0.5, 0.4, 0.3], 0.5, [0.8] * 3), "数の並び"),
    (history([0.5, 0.4, 0.3], [0.5] * 3, [0.8, -0.1, 0.8]), "正解率にしてください"),
    ([0.5, 0.4, 0.3], "fit が返す辞書"),
])
def test_malformed_histories_get_a_japanese_error(bad, message):
    with pytest.raises(ValueError, match=message):
        diagnose(bad)


@pytest.mark.parametrize("baseline", [-0.1, 150, "0.5", True, math.nan])
def test_a_bad_baseline_gets_a_japanese_error(baseline):
    with pytest.raises(ValueError, match="baseline"):
        diagnose(OVERFITTING, baseline=baseline)


def test_divergence():
    diverged = history([0.7, math.nan, math.nan], [0.7, math.inf, math.inf], [0.5, 0.5, 0.5])
    assert diagnose(diverged).kind == "diverged"


def test_plot_diagnosis_marks_the_best_epoch_and_the_verdict():
    import matplotlib.pyplot as plt
    from course_utils.setup import register_japanese_font

    register_japanese_font()
    fig = plot_diagnosis({k: np.array(v) for k, v in OVERFITTING.items()}, baseline=50,
                         title="実験")
    ax = fig.axes[0]
    assert KIND_NAMES["overfitting"] in ax.get_title()
    assert any(list(line.get_xdata()) == [3, 3] for line in ax.get_lines())
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    assert "ベースライン（50.0%）" in labels
    plt.close(fig)


# --- 2 つ目のレビューで見つかった読み違い --------------------------------------------------
# 05 の「少し大きすぎる: Adam、学習率 0.1」を、この CPU でシード 0 と 1 で記録したもの（10 エポック）。
# シード 1 では以前「過小適合」、別の CPU では「まだ改善中」と読まれ、本文の「学習率を下げる」と食い違った。
ADAM_01 = {
    0: ([4.7406, 0.081, 0.0613, 0.0513, 0.0406, 0.0329, 0.0279, 0.0234, 0.0301, 0.044],
        [0.0802, 0.0538, 0.0653, 0.047, 0.0436, 0.0495, 0.0454, 0.0424, 0.0389, 0.0547],
        [0.9746, 0.9788, 0.9779, 0.9839, 0.9805, 0.9856, 0.9813, 0.9847, 0.9847, 0.9813]),
    1: ([5.0852, 0.1233, 0.0917, 0.0852, 0.072, 0.0727, 0.0611, 0.0614, 0.06, 0.0869],
        [0.0882, 0.0958, 0.0975, 0.0611, 0.0565, 0.077, 0.0758, 0.0615, 0.0987, 0.0468],
        [0.9669, 0.9644, 0.9652, 0.9856, 0.9771, 0.9763, 0.9796, 0.9796, 0.9695, 0.9847]),
}


@pytest.mark.parametrize("seed", sorted(ADAM_01))
def test_a_first_epoch_spike_is_read_as_a_too_large_learning_rate(seed):
    train, val, acc = ADAM_01[seed]
    result = diagnose(history(train, val, acc, train_acc=[0.97] * 10), baseline=0.5)
    assert result.kind == "unstable"
    assert "けた違い" in str(result) and "学習率" in str(result)


def test_a_finite_but_exploding_loss_is_divergence():
    train = [0.7, 0.5, 0.4, 3.0, 40.0, 900.0]
    result = diagnose(history(train, [0.6] * 6, [0.6] * 6), baseline=0.5)
    assert result.kind == "diverged" and "発散" in str(result)


@pytest.mark.parametrize("epochs", [1, 2])
def test_nan_in_a_short_run_is_divergence_not_train_longer(epochs):
    train = [0.7, float("nan")][:epochs] if epochs == 2 else [float("nan")]
    result = diagnose(history(train, [0.7] * epochs, [0.5] * epochs), baseline=0.5)
    assert result.kind == "diverged"
    assert "エポック以上学習" not in str(result)


def test_orders_of_magnitude_only_for_ten_times_or_more():
    # 1 エポック目が最小の 3 倍: 「けた違い」とは書かない
    result = diagnose(history([0.75, 0.25, 0.7, 0.71, 0.72], [0.7] * 5, [0.5] * 5,
                              train_acc=[0.5] * 5), baseline=0.5)
    assert result.kind == "not_learning"
    assert "けた違い" not in str(result) and "3.0 倍" in str(result)
