"""講座で繰り返し使う図: 数字の一覧、予測の正誤、混同行列、学習曲線、計算グラフ。"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from course_utils.data import MNIST_MEAN, MNIST_STD


def as_images(images) -> np.ndarray:
    """(N,28,28) や (N,1,28,28) の画像を (N,28,28) の NumPy 配列にする。"""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    return array.reshape(len(array), *array.shape[-2:])


def denormalize(images, mean: float = MNIST_MEAN, std: float = MNIST_STD):
    """Normalize(mean, std) を元に戻して [0, 1] の画素値に近づける（表示用）。"""
    return images * std + mean


def _grid(n: int, ncols: int, size: float) -> tuple[Figure, np.ndarray]:
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def show_digits(images, labels: Sequence | None = None, ncols: int = 10,
                title: str = "MNIST の数字", size: float = 1.2) -> Figure:
    """数字の画像を格子状に並べ、ラベルがあれば上に書く（00, 01 で導入）。"""
    images = as_images(images)
    fig, axes = _grid(len(images), ncols, size)
    for i, ax in enumerate(axes.flat[:len(images)]):
        ax.imshow(images[i], cmap="gray_r")
        if labels is not None:
            ax.set_title(str(int(labels[i])), fontsize=12)
    fig.suptitle(title, fontsize=14)
    fig.tight_layout()
    return fig


def show_predictions(images, y: Sequence, y_hat: Sequence, ncols: int = 8,
                     title: str = "予測の正誤（✓ 正解 / ✗ 不正解）",
                     class_names: Sequence[str] | None = None,
                     size: float = 1.5) -> Figure:
    """予測を「✓ T:7 P:7」（緑）や「✗ T:4 P:9」（赤）の形で画像の上に書く（04 で導入）。"""
    images = as_images(images)
    name = class_names.__getitem__ if class_names else str
    fig, axes = _grid(len(images), ncols, size)
    for i, ax in enumerate(axes.flat[:len(images)]):
        true, pred = int(y[i]), int(y_hat[i])
        ok = true == pred
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"{'✓' if ok else '✗'} T:{name(true)} P:{name(pred)}",
                     color="tab:green" if ok else "tab:red", fontsize=11)
    fig.suptitle(title, fontsize=14)
    fig.tight_layout()
    return fig


def confusion_matrix(y, y_hat, num_classes: int) -> np.ndarray:
    """混同行列を返す。行が正解ラベル、列が予測ラベル、値は件数。"""
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    y_hat = np.asarray(y_hat, dtype=np.int64).reshape(-1)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y, y_hat), 1)
    return matrix


def plot_confusion_matrix(y, y_hat, class_names: Sequence[str] | None = None,
                          title: str = "混同行列") -> Figure:
    """混同行列をヒートマップで描き、各マスに件数を書く（01 で導入）。"""
    num_classes = len(class_names) if class_names else int(max(np.max(y), np.max(y_hat))) + 1
    names = list(class_names) if class_names else [str(k) for k in range(num_classes)]
    matrix = confusion_matrix(y, y_hat, num_classes)
    side = max(4.0, 0.6 * num_classes + 1.5)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    image = ax.imshow(matrix, cmap="Blues")
    limit = matrix.max() / 2
    for i in range(num_classes):
        for j in range(num_classes):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if matrix[i, j] > limit else "black")
    ax.set_xticks(range(num_classes), names)
    ax.set_yticks(range(num_classes), names)
    ax.set_xlabel("予測ラベル")
    ax.set_ylabel("正解ラベル")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="件数")
    fig.tight_layout()
    return fig


# 学習曲線の線: 色に加えて線の種類と印でも区別する（色の見分けにくい人やモノクロ印刷のため）
CURVE_STYLES = {
    "train_loss": dict(color="blue", linestyle="-", marker="o", label="訓練損失"),
    "val_loss": dict(color="green", linestyle="--", marker="^", label="検証損失"),
    "val_acc": dict(color="red", linestyle="-.", marker="s", label="検証正解率"),
}


def plot_history(history: dict, title: str = "学習曲線",
                 baseline: float | None = None, ax: plt.Axes | None = None) -> Figure:
    """学習曲線を描く: 青の実線=訓練損失、緑の破線=検証損失（左軸）、赤の一点鎖線=検証正解率（右軸）（03 で導入）。

    線は色だけでなく線の種類と印（○ △ □）でも見分けられる。
    baseline を渡すと、正解率の軸にベースライン（例: 当て推量の 0.5）を点線で引く。
    ax を渡すとその中に描く（失敗と修正を横に並べるときなど）。
    """
    train_loss = np.asarray(history["train_loss"], dtype=float)
    epochs = np.arange(1, len(train_loss) + 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    ms = 4 if len(epochs) <= 30 else 2.5  # エポックが多いときは印を小さく
    ax.plot(epochs, train_loss, ms=ms, **CURVE_STYLES["train_loss"])
    if "val_loss" in history:
        ax.plot(epochs, np.asarray(history["val_loss"], dtype=float), ms=ms,
                **CURVE_STYLES["val_loss"])
    ax2 = ax.twinx()
    if "val_acc" in history:
        ax2.plot(epochs, np.asarray(history["val_acc"], dtype=float) * 100, ms=ms,
                 **CURVE_STYLES["val_acc"])
    if baseline is not None:
        ax2.axhline(baseline * 100, color="red", linestyle=":", linewidth=1.5,
                    label=f"ベースライン（{baseline:.1%}）")
    ax.set_xlabel("エポック")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # エポックは整数
    ax.set_ylabel("損失")
    ax2.set_ylabel("正解率 [%]", color="red")
    ax2.tick_params(axis="y", colors="red")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_computation_graph(nodes: dict, edges: Sequence, title: str = "") -> Figure:
    """計算グラフを描く（02 で導入）。値は四角、演算は丸。

    nodes: {名前: (x, y, 表示する文字, 種類)}。種類は "value"（入力・出力）か "op"（演算）。
    edges: [(始点, 終点, 順伝播の値, 勾配), ...]。辺の片側に順伝播の値を黒の立体で、
    反対側に勾配を「[ ]」で囲んだ赤の斜体で書く（色がなくても括弧で区別できる）。
    """
    fig, ax = plt.subplots(figsize=(12, 4.2))
    for x, y, text, kind in nodes.values():
        style = ("round,pad=0.35", "white") if kind == "value" else ("circle,pad=0.3", "#dbe7f5")
        ax.text(x, y, text, ha="center", va="center", fontsize=14, zorder=3,
                bbox=dict(boxstyle=style[0], facecolor=style[1], edgecolor="black"))
    for start, end, value, grad in edges:
        (x0, y0), (x1, y1) = nodes[start][:2], nodes[end][:2]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="black", shrinkA=22, shrinkB=22))
        length = math.hypot(x1 - x0, y1 - y0)
        nx, ny = -(y1 - y0) / length, (x1 - x0) / length  # 辺に垂直な向き（左手側）
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        for sign, text, extra in [(1, f"{value:.3g}", {}),
                                  (-1, f"[{grad:.3g}]", dict(color="tab:red", style="italic"))]:
            ox, oy = sign * 0.28 * nx, sign * 0.28 * ny
            ha = "center" if abs(ox) < 0.1 else ("left" if ox > 0 else "right")
            va = "center" if abs(oy) < 0.1 else ("bottom" if oy > 0 else "top")
            ax.text(mx + ox, my + oy, text, ha=ha, va=va, fontsize=12, **extra)
    xs = [x for x, *_ in nodes.values()]
    ys = [y for _, y, *_ in nodes.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig


SHOWN_WIDTH_PX = 800  # ノートブックの出力欄の幅（JupyterLab・Colab をノートパソコンで開いたときの控えめな値）
READABLE_PX = 9  # 出力欄に縮めて表示されたときの、文字の高さの下限


def smallest_text_px(fig: Figure, shown_width_px: int = SHOWN_WIDTH_PX) -> float:
    """図の中でいちばん小さい文字が、幅 shown_width_px の出力欄に表示されたときの高さ（ピクセル、em の大きさ）。

    Jupyter は出力欄より幅の広い図を縮めて表示する。文字の大きさ（ポイント）を 1/72 インチとして、
    図の幅（インチ）が出力欄の幅に縮められたときの大きさを求める。
    """
    fig.canvas.draw()
    sizes = [text.get_fontsize() for text in fig.findobj(plt.Text)
             if text.get_visible() and text.get_text().strip()]
    inch_px = min(fig.dpi, shown_width_px / fig.get_figwidth())  # 縮めないなら dpi のまま
    return min(sizes) / 72 * inch_px


def plot_top5(image, title: str, results: Sequence[tuple[str, Sequence[float], Sequence[str], bool]],
              ncols: int = 2) -> Figure:
    """写真と、モデルごとの上位のクラスの横棒グラフ（確率 %）を 1 枚の図にする（07）。

    results: (モデルの名前, 確率 0〜1 の列, クラス名の列, 学習済みの重みか) を、モデルの数だけ。
    学習済みでないモデルの棒は灰色にする。出力欄の幅（SHOWN_WIDTH_PX）でも文字が読めるように、
    列を 2 つにして図の幅を抑え、モデルが多いときは縦に伸ばす。
    """
    nrows = math.ceil((len(results) + 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.5 * ncols, 2.4 * nrows), layout="constrained",
                             squeeze=False)
    axes = axes.ravel()
    axes[0].imshow(image)
    axes[0].set_title(title, fontsize=11)
    for ax, (name, probs, labels, pretrained) in zip(axes[1:], results):
        percent = [100 * float(p) for p in probs]
        bars = ax.barh(range(len(percent)), percent, color="tab:blue" if pretrained else "tab:gray")
        ax.bar_label(bars, fmt="%.1f", fontsize=10, padding=2)
        ax.set_yticks(range(len(percent)), labels, fontsize=10)
        ax.invert_yaxis()  # 1 位を上に
        ax.set_xlim(0, 118)
        ax.tick_params(axis="x", labelsize=10)
        ax.set_xlabel("確率 [%]", fontsize=10)
        ax.set_title(name if pretrained else f"{name}（ランダムな重み）", fontsize=11)
    for ax in [axes[0], *axes[len(results) + 1:]]:
        ax.axis("off")
    return fig
