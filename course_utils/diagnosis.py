"""学習の記録 history を読んで、学習曲線の状態を日本語で説明する（05 のデバッグの手順）。"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from course_utils.plots import plot_history

# 判定のしきい値。05 の実験（失敗と修正の各組）と、その記録をまねた tests/ の記録で確かめた値。
MIN_EPOCHS = 3             # これより短い記録は判定しない（曲線の形が分からない）
STALL_RATIO = 0.95         # 訓練損失が 1 エポック目の 95 % より下がらなければ「下がらない」
SLOW_RATIO = 0.80          # 2 割も下がらなければ「遅すぎる」
BASELINE_SHARE = 0.10      # ベースラインとの差が、伸びしろ (1 − ベースライン) の 1 割以内なら「ベースラインのまま」
MEMORIZED_ACC = 0.95       # 訓練正解率がこれ以上なのに検証がベースラインなら「丸暗記」
RISE_SHARE = 0.10          # 訓練損失が、2 エポック目から最小までの下がり幅の 1 割以上跳ね上がり、
UNSTABLE_END = 1.5         # しかも最後の訓練損失が最小の 1.5 倍以上に戻っていたら「不安定」
OVERFIT_RISE = 0.10        # 検証損失（最後の 3 エポックの平均）が最小の 1.1 倍以上なら「過学習」
OVERFIT_WAIT = 0.20        # ただし最小から、全エポックの 2 割（最低 3 エポック）以上たっていること
UNDERFIT_TRAIN_ACC = 0.98  # 訓練正解率がこれ未満で、検証とほぼ同じなら「未学習」（MNIST の目安）
UNDERFIT_GAP = 0.01        # 「ほぼ同じ」: 訓練正解率が検証正解率より 1 ポイント以上は高くない
STILL_FALLING = 0.20       # 検証損失の最小が最後の 2 割のエポックにあれば「まだ改善中」
EARLY_SPIKE = 10           # 1 エポック目の平均の訓練損失が 2 エポック目の 10 倍以上なら、初めに跳ね上がった跡
EXPLODE_RATIO = 10         # 最後の訓練損失が最小の 10 倍以上にふくらんだら、数のままでも「発散」

KIND_NAMES = {
    "too_short": "短すぎて判定できない",
    "diverged": "発散",
    "not_learning": "訓練損失が下がらない",
    "at_baseline": "ベースラインから動かない",
    "memorizing": "丸暗記（検証はベースラインのまま）",
    "too_slow": "学習が遅すぎる",
    "unstable": "不安定（学習率が大きすぎる疑い）",
    "overfitting": "過学習",
    "underfitting": "過小適合（未学習）",
    "still_improving": "まだ改善中",
    "converged": "落ち着いた",
}


@dataclass
class Diagnosis:
    """diagnose の結果。kind は英語の短い名前、messages は日本語の説明と次の一手。"""

    kind: str
    messages: list[str] = field(default_factory=list)
    best_epoch: int | None = None  # 検証損失が最小のエポック（1 から）

    @property
    def name(self) -> str:
        """判定の日本語名（図のタイトルなどに使う）。"""
        return KIND_NAMES[self.kind]

    def __str__(self) -> str:
        return "\n".join(self.messages)


def _series(history: Mapping, key: str) -> list[float]:
    """history[key] を float のリストにする（リスト・NumPy 配列・テンソルを受け付ける）。"""
    values = history[key]
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().tolist()
    elif isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"history['{key}'] はエポックごとの数の並び（リストなど）にしてください"
                         f"（渡されたもの: {type(values).__name__}）")
    numbers_ = []
    for value in values:
        value = _scalar(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"history['{key}'] に数でないもの（{value!r}）が入っています")
        numbers_.append(float(value))
    return numbers_


def _scalar(value):
    """要素 1 つのテンソルや NumPy の数を、Python の数にする（それ以外はそのまま返す）。"""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (np.ndarray, np.generic)) and value.size == 1:
        return value.item()
    return value


def _as_fraction(values: list[float]) -> list[float]:
    """正解率が % で記録されていたら（1 を超える値があれば）0〜1 に直す。"""
    return [v / 100 for v in values] if values and max(values) > 1 else values


def check_history(history) -> dict[str, list[float]]:
    """diagnose が読める形か確かめ、各記録を float のリストにして返す（おかしければ日本語の ValueError）。"""
    if not isinstance(history, Mapping):
        raise ValueError("history には fit が返す辞書を渡してください"
                         f"（渡されたもの: {type(history).__name__}）")
    missing = [key for key in ("train_loss", "val_loss", "val_acc") if key not in history]
    if missing:
        hint = ("fit に検証データの val_loader を渡すと記録されます"
                if "train_loss" not in missing else "fit が返す history を渡してください")
        raise ValueError(f"history に {', '.join(missing)} がありません（{hint}）")
    keys = [k for k in ("train_loss", "train_acc", "val_loss", "val_acc") if k in history]
    clean = {key: _series(history, key) for key in keys}
    lengths = {key: len(values) for key, values in clean.items()}
    if lengths["train_loss"] == 0:
        raise ValueError("history が空です（1 エポックも学習していません）")
    if len(set(lengths.values())) > 1:
        detail = "、".join(f"{key} {n}" for key, n in lengths.items())
        raise ValueError(f"history の記録の長さがそろっていません（{detail} エポック）。"
                         "同じ学習の記録かどうか確かめてください")
    for key in ("train_acc", "val_acc"):
        if key in clean:
            clean[key] = _as_fraction(clean[key])
            if min(clean[key]) < 0 or max(clean[key]) > 1:
                raise ValueError(f"history['{key}'] は 0〜1（または 0〜100 %）の正解率にしてください")
    return clean


def check_baseline(baseline) -> float | None:
    """ベースラインを 0〜1 の割合にして返す（50 のような % も受け付ける）。"""
    if baseline is None:
        return None
    baseline = _scalar(baseline)
    if isinstance(baseline, bool) or not isinstance(baseline, numbers.Real):
        raise ValueError("baseline には正解率の数（0.5 や 50 など）を渡してください"
                         f"（渡されたもの: {type(baseline).__name__}）")
    value = float(baseline)
    if not 0 <= value <= 100 or math.isnan(value):
        raise ValueError(f"baseline は 0〜1 の割合か 0〜100 の % にしてください（渡された値: {value}）")
    return value / 100 if value > 1 else value


def _jumps(train: list[float]) -> list[int]:
    """訓練損失が跳ね上がったエポック（1 から）。2 エポック目からの下がり幅の 1 割を超える上昇を数える。"""
    drop = train[1] - min(train[1:])
    return [e + 1 for e in range(2, len(train))
            if train[e] > train[e - 1] + RISE_SHARE * drop and train[e] > 1.1 * train[e - 1]]


def times_text(ratio: float) -> str:
    """倍率を「けた違い（58 倍）」「3.2 倍」のように書く。けた違いと書くのは 10 倍以上だけ。"""
    return f"けた違い（{ratio:.0f} 倍）" if ratio >= 10 else f"{ratio:.1f} 倍"


def _not_learning(train: list[float], train_text: str, jumps: list[int],
                  best: int | None) -> Diagnosis:
    if train[0] > 2 * min(train) or jumps:
        start = (f"最初のエポックの平均損失が最小の{times_text(train[0] / min(train))}に大きく"
                 if train[0] > 2 * min(train) else "訓練損失が途中で跳ね上がり")
        cause = (f"{start}、その後は下がらなくなっているので、"
                 "学習率が大きすぎて重みが壊れた疑いが強いです。")
        advice = "次の一手: 学習率を 1/10 ずつ下げて試す、入力を正規化しているか確かめる。"
    else:
        cause = "損失がほとんど動かないので、学習率が小さすぎるか、勾配が届いていない疑いがあります。"
        advice = ("次の一手: 学習率を 10 倍ずつ上げて試す、モデルを大きくする、学習ループ"
                  "（zero_grad・backward・step）を確かめる、数十枚だけで損失が 0 近くまで下がるか試す。")
    return Diagnosis("not_learning", [
        f"訓練データにさえ合わせられていません（訓練損失 {train[0]:.3g} → {train[-1]:.3g}"
        f"{train_text}）。" + cause, advice], best)


def diagnose(history, baseline=None) -> Diagnosis:
    """fit の記録から、学習曲線が 05 のどの症状に当たるかを判定して返す（05 で導入）。

    history: fit が返す辞書（train_loss, val_loss, val_acc。train_acc もあれば使う）。
    値はリスト・NumPy 配列・テンソルのどれでもよい。
    baseline: 何も学ばないときの正解率（当て推量なら 0.5）。0.5 でも 50 でもよい。
    """
    return _judge(check_history(history), check_baseline(baseline))


def _judge(h: dict[str, list[float]], baseline: float | None) -> Diagnosis:
    """check_history と check_baseline を通した記録を判定する（diagnose の中身）。"""
    train, loss, acc = h["train_loss"], h["val_loss"], h["val_acc"]
    train_acc = h.get("train_acc")
    epochs = len(train)
    finite = all(math.isfinite(v) for v in train + loss)
    best = min(range(epochs), key=loss.__getitem__) + 1 if finite else None
    if not finite:  # 短い記録でも、NaN や無限大は「もっと学習する」では直らない
        return Diagnosis("diverged", [
            "損失が無限大か NaN になりました（発散）。",
            "次の一手: 学習率を 1/10 にする、入力を正規化しているか確かめる。"], best)
    if epochs >= 2 and train[-1] >= EXPLODE_RATIO * min(train) and train[-1] > train[0]:
        return Diagnosis("diverged", [
            f"訓練損失が {min(train):.3g} から {train[-1]:.3g} へと、最小の{times_text(train[-1] / min(train))}に"
            "ふくらみました。まだ数の範囲ですが、発散しかけています。",
            "次の一手: 学習率を 1/10 にする、勾配クリッピングを入れる、入力を正規化しているか確かめる。"], best)
    if epochs < MIN_EPOCHS:
        return Diagnosis("too_short", [
            f"{epochs} エポックだけでは曲線の形が分からないので、判定しません"
            f"（最後の検証正解率 {acc[-1]:.1%}）。",
            f"次の一手: {MIN_EPOCHS} エポック以上学習してから読みます。"], best)

    margin = BASELINE_SHARE * (1 - baseline) if baseline is not None else None
    typical_acc = statistics.median(acc[epochs // 2:])  # 後半の中央値（偶然の揺れに強い）
    train_text = f"、訓練正解率 {train_acc[-1]:.1%}" if train_acc else ""
    jumps = _jumps(train)
    if baseline is not None and train_acc is not None and train_acc[-1] <= baseline + margin:
        return _not_learning(train, train_text, jumps, best)
    if baseline is not None and typical_acc <= baseline + margin:
        if train_acc is not None and train_acc[-1] >= MEMORIZED_ACC:
            return Diagnosis("memorizing", [
                f"訓練正解率は {train_acc[-1]:.1%} なのに、検証正解率（後半の中央値 {typical_acc:.1%}）は"
                f"ベースライン {baseline:.1%} のままです。",
                "訓練画像を 1 枚ずつ丸暗記しただけで、新しい画像に通じる規則は何も学んでいません。"
                "ラベルが画像と無関係なときに起きます。",
                "次の一手: 画像とラベルを並べて目で見る、ラベルの付け方を確かめる。"], best)
        return Diagnosis("at_baseline", [
            f"訓練損失は {train[0]:.3f} → {train[-1]:.3f}{train_text} と少し動きましたが、"
            f"検証正解率（後半の中央値 {typical_acc:.1%}、最高 {max(acc):.1%}）が"
            f"ベースライン {baseline:.1%} から動いていません。",
            "訓練画像を覚え始めているだけで、新しい画像に通じる規則は何も学べていません。",
            "次の一手: 画像とラベルを並べて目で見る、ラベルの割合と番号を確かめる、"
            "学習前の損失が理論値（2 クラスなら ln 2 ≈ 0.693）に近いか確かめる。"], best)
    if train[-1] > STALL_RATIO * train[0]:
        return _not_learning(train, train_text, jumps, best)
    if train[-1] > SLOW_RATIO * train[0]:
        return Diagnosis("too_slow", [
            f"訓練損失は下がっていますが、{epochs} エポックで {train[0]:.3f} → {train[-1]:.3f} と、"
            f"{1 - train[-1] / train[0]:.0%} しか下がっていません（最後の検証正解率 {acc[-1]:.1%}）。",
            "次の一手: 学習率を 10 倍にしてみる（小さすぎると、曲線はほぼ平らなまま少しずつ下がります）。"],
            best)
    if train[0] >= EARLY_SPIKE * train[1]:
        return Diagnosis("unstable", [
            f"1 エポック目の平均の訓練損失 {train[0]:.3g} が、2 エポック目の {train[1]:.3g} の"
            f"{times_text(train[0] / train[1])}です。学習の初めに損失が大きく跳ね上がった跡で、"
            "学習率が大きすぎる疑いがあります（その後は下がっても、壊れた重みから出直した分だけ悪いところで止まりがちです）。",
            f"最後の検証正解率は {acc[-1]:.1%} です。",
            "次の一手: 学習率を 1/3〜1/10 にして比べる、ウォームアップ（学習率を 0 から少しずつ上げる）を入れる。"],
            best)
    if jumps and train[-1] >= UNSTABLE_END * min(train):
        where = "・".join(str(e) for e in jumps[:5])
        return Diagnosis("unstable", [
            f"訓練損失が {where} エポック目に跳ね上がりました。訓練損失（エポックの平均）は、"
            "学習率が合っていれば大きく上がることはまれです。",
            f"最後の訓練損失 {train[-1]:.3g} は最小の {min(train):.3g} より大きく、学習率が大きすぎて、"
            "谷底を飛び越えては戻ることをくり返している疑いがあります。",
            "次の一手: 学習率を 1/3〜1/10 にする、学習率を途中で下げる（スケジューラ）。"], best)
    since_best = epochs - best
    recent = sum(loss[-3:]) / 3
    if since_best >= max(3, OVERFIT_WAIT * epochs) and recent >= (1 + OVERFIT_RISE) * loss[best - 1]:
        acc_change = acc[-1] - acc[best - 1]
        acc_text = ("正解率はほとんど変わらず、損失だけが上がっています（間違える画像への自信が強くなった段階）。"
                    if abs(acc_change) < 0.005 else
                    f"検証正解率も {acc[best - 1]:.1%} → {acc[-1]:.1%} と変わりました。")
        return Diagnosis("overfitting", [
            f"検証損失は {best} エポック目の {loss[best - 1]:.3g} が最小で、"
            f"最後の 3 エポックの平均は {recent:.3g}（{recent / loss[best - 1] - 1:.0%} 上）です。"
            f"訓練損失は {train[-1]:.2g} まで下がり続けています。",
            f"過学習です（{best + 1} エポック目あたりから）。" + acc_text,
            "次の一手: 訓練データを増やす、データ拡張、ドロップアウト、重み減衰、"
            f"検証損失での早期終了（この記録なら {best} エポックで止める）。"], best)
    if (train_acc is not None and train_acc[-1] < UNDERFIT_TRAIN_ACC
            and train_acc[-1] <= acc[-1] + UNDERFIT_GAP):
        still = "まだ少しずつ下がっています" if loss[-1] < loss[-3] else "ほぼ止まっています"
        return Diagnosis("underfitting", [
            f"訓練正解率 {train_acc[-1]:.1%} と検証正解率 {acc[-1]:.1%} がほぼ同じで、"
            f"訓練データでさえ {1 - train_acc[-1]:.1%} を間違えています（損失は{still}）。",
            "過小適合（未学習）です。モデルが小さすぎるか、まだ学習が足りません（損失がほぼ止まっていれば前者）。"
            "訓練データの規則さえ表しきれていない、バイアスが大きい状態です。",
            "次の一手: モデルを大きくする（幅・層を増やす、CNN にする）。"
            "損失がまだ下がっているなら、エポックを増やすのも手です。"], best)
    if since_best < STILL_FALLING * epochs:
        return Diagnosis("still_improving", [
            f"検証損失の最小（{loss[best - 1]:.3g}）が最後の 2 割のエポック（{best} エポック目）にあり、"
            f"まだ下がる途中かもしれません（最後の検証正解率 {acc[-1]:.1%}）。",
            "次の一手: エポック数を増やすと、まだよくなる見込みがあります。"], best)
    return Diagnosis("converged", [
        f"学習は落ち着いています。検証損失は {best} エポック目の {loss[best - 1]:.3g} が最小、"
        f"最後の検証正解率は {acc[-1]:.1%} です。",
        "次の一手: 正解率をさらに上げるなら、モデルやデータ拡張を見直します。"], best)


def plot_diagnosis(history, baseline=None, title: str = "学習曲線の診断",
                   ax: plt.Axes | None = None) -> Figure:
    """学習曲線を描き、検証損失が最小のエポックに縦線を引き、診断の結果をタイトルに添える（05 で導入）。"""
    clean, baseline = check_history(history), check_baseline(baseline)
    result = _judge(clean, baseline)
    fig = plot_history(clean, title=f"{title}\n（診断: {result.name}）", baseline=baseline, ax=ax)
    axis = ax if ax is not None else fig.axes[0]
    if result.best_epoch is not None:
        axis.axvline(result.best_epoch, color="gray", linestyle=":")
        # 縦の位置は図の高さに対する割合で決める（軸の範囲が後で変わってもずれない）
        # 正解率の線（上のほう）と重ならない高さに、白い下地をつけて書く。
        # 縦線が左右の端に近いときは、文字が図からはみ出さないよう内側に寄せる
        where = result.best_epoch / len(clean["train_loss"])
        ha, dx = ("left", 4) if where < 0.25 else ("right", -4) if where > 0.75 else ("center", 0)
        axis.annotate(f"検証損失が最小\n（{result.best_epoch} エポック）", (result.best_epoch, 0.82),
                      xycoords=axis.get_xaxis_transform(), xytext=(dx, 0),
                      textcoords="offset points", ha=ha, va="top",
                      fontsize=9, color="dimgray", zorder=5,
                      bbox=dict(facecolor="white", alpha=0.85, edgecolor="none", pad=1))
    return fig
