"""06 の本文を作るセル（残差接続・工夫の比較・CNN と ViT・描いた数字）が、どの結果にも
正しい向きの文を出すかを、作った入力でセルを実行して確かめる。"""

import math
import re

import nbformat
import numpy as np
import pytest
import torch

from conftest import ROOT
from course_utils.compare import STATUS_TEXT, compare_runs, p_text, sci

NB = nbformat.read(ROOT / "notebooks" / "06_vision_transformer.ipynb", as_version=4)


def cell(prefix):
    found = [c.source for c in NB.cells if c.cell_type == "code" and c.source.startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


def run(source, **names):
    """source を実行し、display(Markdown(...)) に渡した文をつないで返す。"""
    shown = []
    namespace = {"math": math, "torch": torch, "np": np, "compare_runs": compare_runs,
                 "STATUS_TEXT": STATUS_TEXT, "p_text": p_text, "sci": sci,
                 "Markdown": lambda text: text, "display": shown.append,
                 "record_result": lambda *args: None, **names}
    exec(compile(source, "06_vision_transformer.ipynb", "exec"), namespace)
    return "\n".join(shown), namespace


def hits(n, wrong):
    """n 枚のうち、番号 wrong の画像だけを間違えた正誤。"""
    correct = torch.ones(n, dtype=torch.bool)
    correct[list(wrong)] = False
    return correct


def test_training_seeds_come_from_SEED_and_the_split_stays_fixed():
    code = "\n".join(c.source for c in NB.cells if c.cell_type == "code")
    assert "SEED = course_seed()" in code
    # シード 0 の決め打ちは、検証画像をそろえるための分け方だけ
    assert re.findall(r"seed=0\b|manual_seed\(0\)", code) == ["seed=0"]
    assert "train_val_split(X, y, num_val, seed=0)" in code
    assert "SEED + 1" in code  # 工夫の比較の、シードだけを変えた行
    everything = "\n".join(c.source for c in NB.cells)
    assert "paired_noise" not in everything  # 比べ方は course_utils.compare の 1 つだけ


# --- 残差接続 -------------------------------------------------------------------
RESIDUAL = "def times(" + cell("class PlainBlock(Block):").split("\n\n\ndef times(")[1]


def residual_text(with_res, without):
    return run(RESIDUAL, norms={"残差接続あり": with_res, "残差接続なし": without})[0]


def test_residual_all_blocks_larger_without():
    text = residual_text([2.0, 1.5, 1.0], [3.0, 6.0, 5.0])
    assert "3 ブロックすべてで、残差接続なしの勾配は、ありのときの 1.5〜5 倍で、大きくなりました" in text
    assert "残差接続ありでは 2 倍で入力側のほうが大きく" in text
    assert "なしでは 0.6 倍で入力側のほうが小さくなりました" in text
    assert "残差接続がないほうが小さくなりました" in text


def test_residual_all_blocks_smaller_without():
    text = residual_text([1.0, 2.0, 4.0], [0.5, 0.5, 0.5])
    assert "3 ブロックすべてで" in text and "0.12〜0.5 倍で、小さくなりました" in text
    assert "残差接続ありでは 0.25 倍で入力側のほうが小さく" in text
    assert "なしでは 1 倍で同じ大きさになりました" in text
    assert "残差接続がないほうが大きくなりました" in text


def test_residual_mixed_and_extreme_ratios():
    text = residual_text([1.0, 1.0, 1.0, 1.0], [1e-5, 2.0, 1.0, 3.0])
    assert "4 ブロックのうち 2 ブロックでは大きく、1 ブロックでは小さくなりました（1 ブロックは同じ）" in text
    assert "1.0 × 10⁻⁵〜3 倍" in text and "e-05" not in text
    assert "ブロックによって違います" in text


# --- 学習の工夫の比較の表 ---------------------------------------------------------
ABLATION = cell("def judgement(c):")
N = 1000


def ablation_text(rows):
    names = ["① A", "① と同じ設定、シードだけ変える", "② B", "③ C", "④ D", "⑤ E"]
    ablation = {name: (correct, 1.0) for name, correct in zip(names, rows)}
    return run(ABLATION, ablation=ablation, ablation_epochs=1,
               y_train=torch.zeros(5000), y_val=torch.zeros(N))


def test_ablation_every_outcome_and_the_noise_the_verdict_uses():
    first = hits(N, range(100))
    reseeded = hits(N, range(5, 115))                # シードだけの差 1 ポイント
    better = hits(N, range(40))                      # ② は 6 ポイント上がる
    same = better.clone()                            # ③ は同じ
    similar = hits(N, list(range(39)) + [500, 501])  # ④ は少しだけ下がる
    worse = hits(N, range(120))                      # ⑤ は大きく下がる
    text, ns = ablation_text([first, reseeded, better, same, similar, worse])
    status = [c.status for c in ns["verdicts"]]
    assert status == ["decided", "tie", "within_noise", "decided"]
    for c in ns["verdicts"]:  # 表の揺れは、判定に使った揺れと同じ値
        assert c.noise == max(ns["seed_noise"], 200 * math.sqrt(c.only_a + c.only_b) / N)
        assert f"| {c.noise:.2f} |" in text
    assert ns["seed_noise"] == pytest.approx(1.0)
    assert "② が「差あり（上がった）」" in text and "③ が「同じ」" in text
    assert "④ が「揺れの範囲」" in text and "⑤ が「差あり（下がった）」" in text
    assert "はっきり上がったと言えるのは ② です" in text
    assert "はっきり下がったと言えるのは ⑤ です" in text


def test_ablation_seed_noise_can_dominate_and_nothing_decided():
    first = hits(N, range(100))
    reseeded = hits(N, range(300))                   # シードだけで 20 ポイント
    rows = [first, reseeded] + [hits(N, range(90 + 5 * k)) for k in range(4)]
    text, ns = ablation_text(rows)
    assert all(c.noise == pytest.approx(20.0) for c in ns["verdicts"])
    assert "シードを変えただけの差のほうが、標準誤差の 2 倍より大きくなりました" in text
    assert "表のどの行でも、揺れはシードを変えただけの差（20.00 ポイント）で決まりました" in text
    assert "はっきり変わったと言える工夫はありませんでした" in text


# --- CNN と ViT ------------------------------------------------------------------
COMPARISON = "cnn_correct =" + cell("torch.manual_seed(SEED)\ncnn = CNN()").split("\ncnn_correct =")[1]


@pytest.mark.parametrize("vit_wrong, expected", [
    (range(10), "「ViT」が 5.00 ポイント高い結果でした"),
    (range(200), "「CNN」が 14.00 ポイント高い結果でした"),
    (range(62), "どちらが上とも言えません"),
])
def test_cnn_and_vit_sentence_in_both_directions(vit_wrong, expected):
    cnn_correct = hits(N, range(60))
    vit = hits(N, vit_wrong)
    text, _ = run(COMPARISON, correct_per_sample=lambda *args: cnn_correct, cnn=None,
                  val_loader=None, device="cpu", y_pred=torch.where(vit, 1, 0),
                  y_val=torch.ones(N, dtype=torch.long), vit_correct={1: vit}, k=1,
                  seed_noise=1.0, history={"val_acc": [0.5, 0.9]}, cnn_epochs=1,
                  cnn_seconds=2.0, vit_seconds=3.0)
    assert text.count(expected) == 2  # 同じエポックの時点と、学習を終えた後


# --- 描いた数字 --------------------------------------------------------------------
DRAWN = cell('vit_name, cnn_name = "ViT')
VIT, CNN_NAME = "ViT（データ拡張あり）", "04 の CNN（データ拡張なし）"


def drawn_text(vit_raw, cnn_raw, vit_mnist, cnn_mnist):
    right = {(VIT, "そのまま縮小"): vit_raw, (CNN_NAME, "そのまま縮小"): cnn_raw,
             (VIT, "MNIST と同じ前処理"): vit_mnist, (CNN_NAME, "MNIST と同じ前処理"): cnn_mnist}
    right = {key: value.numpy() for key, value in right.items()}
    return run(DRAWN, drawn_right=right, drawn_acc={key: v.mean() for key, v in right.items()},
               preparations={"そのまま縮小": None, "MNIST と同じ前処理": None},
               drawn_labels=np.zeros(200))[0]


def test_drawn_one_training_each_cannot_decide_between_the_models():
    text = drawn_text(hits(200, range(20)), hits(200, range(120)),
                      hits(200, range(20)), hits(200, range(120, 200)))
    assert "「ViT」が 50.00 ポイント高い結果でした" in text
    assert "1 回の学習では決められません" in text and "何回か学習し直して" in text
    assert "ViT は、どちらの前処理でも正解した数が同じでした" in text
    assert "04 の CNN は、MNIST と同じ前処理で 20.0 ポイント上がりました" in text


def test_drawn_preprocessing_up_down_within_noise_and_too_few():
    text = drawn_text(hits(200, range(100)), hits(200, range(100, 105)),
                      hits(200, range(10)), hits(200, range(100, 160)))
    assert "「04 の CNN」" not in text and "「CNN」が 47.50 ポイント高い" in text
    assert "ViT は、MNIST と同じ前処理で 45.0 ポイント上がりました" in text
    assert "04 の CNN は、MNIST と同じ前処理で 27.5 ポイント下がりました" in text
    text = drawn_text(hits(200, range(50)), hits(200, range(50)),
                      hits(200, range(45)), hits(200, [*range(48), 100]))
    assert "差は 0 です" in text and "どちらが強いとは言えません" in text
    assert "ViT の差 +2.5 ポイントは揺れを超えましたが、符号検定で p = 0.0625" in text
    assert "04 の CNN の差 +0.5 ポイントは揺れ 1.7 ポイント以内" in text


def test_ablation_says_which_part_set_the_noise():
    first = hits(N, range(100))
    reseeded = hits(N, range(101))                   # シードだけの差 0.1 ポイント
    rows = [first, reseeded, hits(N, range(100, 200)), hits(N, range(100, 200)),
            hits(N, range(100, 200)), hits(N, range(150, 200))]
    text, ns = ablation_text(rows)
    assert "シードを変えただけの差は、標準誤差の 2 倍より小さくなりました" in text
    by_se = [c.noise > ns["seed_noise"] for c in ns["verdicts"]]
    assert by_se == [True, False, False, True]
    assert "表の 4 行のうち 2 行では、揺れはその行の標準誤差の 2 倍で" in text
