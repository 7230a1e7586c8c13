"""学習の記録 history を読んで、学習曲線の状態を日本語で説明する（04 のデバッグの手順）。"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_utils.plots import plot_history

# 判定のしきい値（04 の実験で、失敗と修正を分けられることを確かめた値）
STALL_RATIO = 0.97       # 訓練損失が最初から 3 % も下がらなければ「下がらない」
BASELINE_MARGIN = 0.02   # ベースライン + 2 ポイント以内なら「ベースラインのまま」
OVERFIT_RISE = 0.10      # 評価の損失が最小から 1 割以上上がったら「過学習」
STILL_FALLING = 0.03     # 最後の 3 エポックで評価の損失が 3 % 以上下がっていれば「まだ下がる」

KIND_NAMES = {
    "diverged": "発散",
    "not_learning": "訓練損失が下がらない",
    "at_baseline": "ベースラインから動かない",
    "overfitting": "過学習",
    "still_improving": "まだ改善中",
    "converged": "落ち着いた",
}


@dataclass
class Diagnosis:
    """diagnose の結果。kind は英語の短い名前、messages は日本語の説明と次の一手。"""

    kind: str
    messages: list[str] = field(default_factory=list)
    best_epoch: int | None = None  # 評価の損失が最小のエポック（1 から）
    split: str = "val"             # 評価に使ったデータ（"val" か "test"）

    def __str__(self) -> str:
        return "\n".join(self.messages)


def _split(history: dict[str, list[float]]) -> str:
    if "val_loss" in history:
        return "val"
    if "test_loss" in history:
        return "test"
    raise ValueError("history に val_loss も test_loss もありません（fit の記録を渡してください）")


def diagnose(history: dict[str, list[float]], baseline: float | None = None) -> Diagnosis:
    """fit の記録から、学習曲線が 04 のどの症状に当たるかを判定して返す（04 で導入）。

    評価には検証データの記録（val_*）があればそれを、なければテストデータの記録を使う。
    baseline（例: 当て推量の 0.5）を渡すと、正解率がそれを超えたかも調べる。
    """
    split = _split(history)
    name = {"val": "検証", "test": "テスト"}[split]
    train, loss, acc = history["train_loss"], history[f"{split}_loss"], history[f"{split}_acc"]
    if not train:
        raise ValueError("history が空です（1 エポックも学習していません）")
    epochs = len(train)
    best = min(range(epochs), key=loss.__getitem__) + 1
    if any(not math.isfinite(v) for v in train + loss):
        return Diagnosis("diverged", [
            "損失が無限大か NaN になりました（発散）。",
            "次の一手: 学習率を 1/10 にする、入力を正規化しているか確かめる。"], None, split)
    train_acc = history.get("train_acc", [])
    cannot_fit = (baseline is not None and bool(train_acc)
                  and train_acc[-1] <= baseline + BASELINE_MARGIN)
    if train[-1] > STALL_RATIO * train[0] or cannot_fit:
        detail = f"、訓練正解率 {train_acc[-1]:.1%}" if train_acc else ""
        return Diagnosis("not_learning", [
            f"訓練損失が下がっていません（{train[0]:.3f} → {train[-1]:.3f}{detail}）。"
            "訓練データにさえ合わせられていません。",
            "次の一手: 学習率を変える（大きすぎても小さすぎても下がらない）、"
            "モデルを大きくする、学習ループ（zero_grad・backward・step）を確かめる。"], best, split)
    if baseline is not None and max(acc) <= baseline + BASELINE_MARGIN:
        return Diagnosis("at_baseline", [
            f"訓練損失は下がっていますが、{name}正解率（最高 {max(acc):.1%}）が"
            f"ベースライン {baseline:.1%} から動いていません。",
            "覚えているだけで、何も一般化できていません。",
            "次の一手: 画像とラベルを並べて目で見る、ラベルの割合と番号を確かめる、"
            "学習前の損失が理論値（2 クラスなら ln 2 ≈ 0.693）に近いか確かめる。"], best, split)
    if best < epochs and loss[-1] > (1 + OVERFIT_RISE) * loss[best - 1]:
        return Diagnosis("overfitting", [
            f"{name}損失は {best} エポック目の {loss[best - 1]:.3f} が最小で、その後 "
            f"{loss[-1]:.3f} まで上がりました。訓練損失は {train[-1]:.4f} まで下がっています。",
            f"過学習です（{best + 1} エポック目あたりから）。",
            "次の一手: 訓練データを増やす、データ拡張、ドロップアウト、重み減衰、"
            f"検証損失での早期終了（ここなら {best} エポックで止める）。"], best, split)
    tail = loss[-3:]
    if epochs >= 2 and tail[-1] < (1 - STILL_FALLING) * tail[0]:
        return Diagnosis("still_improving", [
            f"訓練損失も{name}損失もまだ下がっています（{name}損失 {loss[-1]:.3f}）。",
            "次の一手: エポック数を増やすと、まだよくなる見込みがあります。"], best, split)
    return Diagnosis("converged", [
        f"学習は落ち着いています: {name}損失は {best} エポック目の {loss[best - 1]:.3f} が最小、"
        f"最後の{name}正解率は {acc[-1]:.1%} です。",
        "次の一手: 正解率をさらに上げるなら、モデルやデータ拡張を見直します。"], best, split)


def plot_diagnosis(history: dict[str, list[float]], baseline: float | None = None,
                   title: str = "学習曲線の診断", ax: plt.Axes | None = None) -> Figure:
    """学習曲線を描き、評価の損失が最小のエポックに縦線を引き、診断の結果をタイトルに添える（04 で導入）。"""
    result = diagnose(history, baseline)
    fig = plot_history(history, title=f"{title}\n（診断: {KIND_NAMES[result.kind]}）",
                       baseline=baseline, ax=ax)
    axis = ax if ax is not None else fig.axes[0]
    if result.best_epoch is not None:
        axis.axvline(result.best_epoch, color="gray", linestyle=":")
        # 縦の位置は図の高さに対する割合で決める（軸の範囲が後で変わってもずれない）
        axis.annotate(f"損失が最小\n（{result.best_epoch} エポック）", (result.best_epoch, 0.97),
                      xycoords=axis.get_xaxis_transform(), ha="center", va="top",
                      fontsize=9, color="gray")
    return fig
