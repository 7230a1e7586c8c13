"""学習曲線の診断 diagnose を、症状ごとに作った記録で確かめる。"""

import math

import pytest

from course_utils.diagnosis import KIND_NAMES, diagnose, plot_diagnosis


def history(train, val, val_acc, train_acc=None, split="val"):
    return {"train_loss": train, "train_acc": train_acc or [0.9] * len(train),
            f"{split}_loss": val, f"{split}_acc": val_acc}


# 04 の実験で実際に出た形をまねた記録
TOO_SMALL_LR = history([0.722, 0.721, 0.720, 0.718, 0.717], [0.723] * 5, [0.36] * 5,
                       train_acc=[0.36] * 5)
TOO_LARGE_LR = history([558.0, 0.75, 0.70, 0.69, 0.69], [0.81] * 5, [0.50, 0.51, 0.50, 0.51, 0.50],
                       train_acc=[0.50, 0.50, 0.51, 0.51, 0.51])
SHUFFLED_LABELS = history([0.699, 0.691, 0.685, 0.671, 0.658], [0.70, 0.70, 0.72, 0.72, 0.76],
                          [0.46, 0.44, 0.49, 0.47, 0.47], train_acc=[0.5, 0.52, 0.55, 0.57, 0.60])
OVERFITTING = history([0.6, 0.2, 0.05, 0.01, 0.001, 0.0005, 0.0001],
                      [0.5, 0.2, 0.15, 0.16, 0.18, 0.20, 0.21], [0.8, 0.93, 0.95, 0.95, 0.95, 0.95, 0.95])
STILL_IMPROVING = history([0.5, 0.3, 0.2, 0.15, 0.12], [0.45, 0.3, 0.22, 0.18, 0.15],
                          [0.85, 0.9, 0.93, 0.94, 0.95])
CONVERGED = history([0.5, 0.1, 0.05, 0.04, 0.04], [0.2, 0.08, 0.075, 0.074, 0.075],
                    [0.95, 0.97, 0.975, 0.975, 0.975])


@pytest.mark.parametrize("h, kind", [
    (TOO_SMALL_LR, "not_learning"),
    (TOO_LARGE_LR, "not_learning"),
    (SHUFFLED_LABELS, "at_baseline"),
    (OVERFITTING, "overfitting"),
    (STILL_IMPROVING, "still_improving"),
    (CONVERGED, "converged"),
])
def test_each_symptom_is_recognised(h, kind):
    assert diagnose(h, baseline=0.5).kind == kind


def test_overfitting_names_the_best_epoch_and_what_to_try():
    result = diagnose(OVERFITTING, baseline=0.5)
    assert result.best_epoch == 3
    text = str(result)
    assert "3 エポック目の 0.150 が最小" in text and "0.210 まで上がりました" in text
    assert "4 エポック目あたりから" in text and "早期終了" in text


def test_baseline_check_needs_a_baseline():
    # ベースラインを渡さなければ、正解率がベースラインのままかは判定しない
    assert diagnose(SHUFFLED_LABELS).kind != "at_baseline"


def test_divergence_and_the_test_split():
    diverged = history([0.7, math.nan], [0.7, math.inf], [0.5, 0.5])
    assert diagnose(diverged).kind == "diverged"
    on_test = history(*[OVERFITTING[k] for k in ("train_loss", "val_loss", "val_acc")],
                      split="test")
    result = diagnose(on_test, baseline=0.5)
    assert result.kind == "overfitting" and result.split == "test"
    assert "テスト損失" in str(result)


def test_history_without_evaluation_is_a_clear_error():
    with pytest.raises(ValueError, match="val_loss も test_loss もありません"):
        diagnose({"train_loss": [0.5], "train_acc": [0.8]})


def test_plot_diagnosis_marks_the_best_epoch_and_the_verdict():
    import matplotlib.pyplot as plt
    from course_utils.setup import register_japanese_font

    register_japanese_font()
    fig = plot_diagnosis(OVERFITTING, baseline=0.5, title="実験")
    ax = fig.axes[0]
    assert KIND_NAMES["overfitting"] in ax.get_title()
    assert any(list(line.get_xdata()) == [3, 3] for line in ax.get_lines())
    plt.close(fig)
