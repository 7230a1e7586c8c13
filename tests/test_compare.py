"""course_utils.compare: 同じ画像での 2 つの学習の比べ方（揺れ・厳密な検定・試行・文）。"""

import math

import pytest
import torch

from course_utils.compare import ALPHA, NOISE_SE, compare_runs, describe, sci, sign_test_p


def correct(n, wrong):
    """n 枚のうち、番号 wrong の画像だけを間違えた正誤。"""
    hits = torch.ones(n, dtype=torch.bool)
    hits[list(wrong)] = False
    return hits


def test_sign_test_matches_binomial_by_hand():
    assert ALPHA == 0.05
    assert sign_test_p(5, 0) == pytest.approx(0.0625)       # 2 × 0.5⁵
    assert sign_test_p(0, 5) == pytest.approx(0.0625)
    assert sign_test_p(6, 0) == pytest.approx(0.03125)
    assert sign_test_p(3, 3) == 1.0
    assert sign_test_p(0, 0) == 1.0
    # 10 対 2: 2 × (1 + 12 + 66) / 4096
    assert sign_test_p(10, 2) == pytest.approx(2 * 79 / 4096)
    with pytest.raises(ValueError):
        sign_test_p(-1, 2)


def test_five_against_zero_is_not_decided():
    a = correct(100, range(5))        # A は 5 枚間違える
    b = correct(100, [])
    c = compare_runs(a, b, "A", "B", seed_noise=0.0)
    assert (c.only_a, c.only_b) == (0, 5)
    assert c.diff == pytest.approx(5.0)
    assert c.noise == pytest.approx(100 * NOISE_SE * math.sqrt(5) / 100)
    assert c.diff > c.noise          # 正規近似の 2 SE なら「差あり」になってしまう
    assert c.status == "too_few" and c.winner is None
    assert "p = 0.0625" in describe(c)


def test_clear_difference_over_repeated_runs_is_decided():
    runs_a = [correct(1000, range(40)), correct(1000, range(10, 55))]
    runs_b = [correct(1000, range(5)), correct(1000, range(3))]
    c = compare_runs(runs_a, runs_b, "対策なし", "対策あり")
    assert c.status == "decided" and c.winner == "対策あり" and c.loser == "対策なし"
    assert c.runs == 2 and c.runs_b_ahead == 2
    assert "2 回のどれでも「対策あり」が上" in c.sentence()
    assert "「対策あり」のほうが高いと言えます" in c.sentence()
    assert "シード 2 回の合計" in compare_runs(runs_a, runs_b, unit="シード").sentence()


def test_runs_that_disagree_are_not_decided():
    runs_a = [correct(1000, range(60)), correct(1000, range(2))]
    runs_b = [correct(1000, range(3)), correct(1000, range(8))]
    c = compare_runs(runs_a, runs_b, "A", "B")
    assert c.status == "seeds_disagree" and c.winner is None
    assert "2 回のうち 1 回" in c.sentence()


def test_one_run_cannot_decide_without_seed_noise():
    a, b = correct(1000, range(60)), correct(1000, range(3))
    alone = compare_runs(a, b)
    assert alone.status == "one_run" and alone.winner is None
    assert "1 回の学習では決められません" in alone.sentence()
    with_seed = compare_runs(a, b, seed_noise=1.0)
    assert with_seed.status == "decided" and with_seed.winner == "B"
    # シードの揺れが差より大きければ決めない
    assert compare_runs(a, b, seed_noise=10.0).status == "within_noise"


def test_tie_and_opposite_direction():
    a, b = correct(100, [0, 1]), correct(100, [2, 3])
    tie = compare_runs(a, b, "A", "B")
    assert tie.status == "tie" and tie.diff == 0
    assert "差は 0" in tie.sentence() and "入れ替わ" not in tie.sentence()
    worse = compare_runs(correct(1000, []), correct(1000, range(80)), "A", "B", seed_noise=0.0)
    assert worse.diff < 0 and worse.winner == "A"
    assert "「A」が 8.00 ポイント高い" in worse.sentence()


def test_collapsed_arm_is_still_compared_honestly():
    """片方がすべて同じクラスと答えて崩れた（半分だけ正解）ときも、崩れた側が上とは言わない。"""
    y = torch.arange(200) % 2
    collapsed = y == 0            # いつも 0 と答える
    good = torch.ones(200, dtype=torch.bool)
    c = compare_runs([good, good], [collapsed, collapsed], "推論モード", "訓練モード")
    assert c.winner == "推論モード"


def test_shapes_and_counts_are_checked():
    with pytest.raises(ValueError, match="試行の回数"):
        compare_runs([correct(10, [])], [correct(10, []), correct(10, [])])
    with pytest.raises(ValueError, match="同じ画像"):
        compare_runs(correct(10, []), correct(11, []))
    with pytest.raises(ValueError, match="1 回分も"):
        compare_runs([], [])


def test_sci_writes_superscripts():
    assert sci(7.5e-18) == "7.5 × 10⁻¹⁸"
    assert sci(3.14159e5, 2) == "3.14 × 10⁵"
    assert sci(2.5) == "2.5"
    assert sci(0.83) == "0.83" and sci(243.0) == "243" and sci(0.0123) == "0.012"
    assert sci(-4.2e-7) == "-4.2 × 10⁻⁷" and sci(12345.0) == "1.2 × 10⁴"
    assert sci(0.0) == "0"
    assert sci(float("nan")) == "nan"


def test_numpy_arrays_are_one_run_or_rows_of_runs():
    import numpy as np
    a, b = np.ones(100, dtype=bool), np.ones(100, dtype=bool)
    b[:30] = False
    c = compare_runs(a, b, seed_noise=0.0)
    assert c.runs == 1 and c.only_a == 30 and c.winner == "A"
    rows = compare_runs(np.stack([a, a]), np.stack([b, b]))
    assert rows.runs == 2 and rows.winner == "A"
