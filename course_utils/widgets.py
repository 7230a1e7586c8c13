"""予測を手で確かめる対話的な部品（ipywidgets 7.7 と 8 の両方で動く。01・04・05・06 で使う）。

- PredictionExplorer: 画像（検証データなど）を 1 枚選び、画像とモデルのクラス確率を並べて見る。
- MistakesBrowser: 間違えた画像を、正解・予測のクラスで絞り込んでページ送りで見る。
どれも、ノートブックのセルの最後に置くと表示される。写真を受け取る部品は course_utils.photos（07）と course_utils.own_classes（08）にある。
"""

from __future__ import annotations

import base64
import io
from typing import Sequence

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from matplotlib.figure import Figure
from torch import nn

from course_utils.env import NeedsPackages, optional_import
from course_utils.plots import as_images, show_predictions

# 入っていない・壊れている（版の食い違いなど）・講座が使う部品が欠けているときは None。
# 部品を作ると理由と直し方を表示する（NeedsPackages）
NEEDS = {"ipywidgets": ("Button", "Dropdown", "HBox", "IntSlider", "Label", "Output", "VBox")}
widgets = optional_import("ipywidgets", NEEDS["ipywidgets"])

ALL = -1  # 絞り込みの「すべて」


@torch.no_grad()
def class_probabilities(model: nn.Module, X: torch.Tensor,
                        device: torch.device | str = "cpu",
                        batch_size: int = 1000) -> torch.Tensor:
    """画像 X (N, 1, 28, 28) のクラス確率 (N, クラス数) を返す。

    出力が 1 つのロジット（05 の 2 値分類）なら、[1 − p, p] の 2 列にする。
    """
    model.eval()
    logits = torch.cat([model(X[i:i + batch_size].to(device)).cpu()
                        for i in range(0, len(X), batch_size)])
    if logits.ndim == 1 or logits.shape[1] == 1:
        p = torch.sigmoid(logits.reshape(-1))
        return torch.stack([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def show_figure(output: widgets.Output, fig: Figure | None) -> None:
    """出力欄 output の中身を、図 fig の PNG 画像に置き換える（None なら空にする）。

    `with output:` で図を描くと、出力の行き先を付け替えるメッセージのやり取りに頼るので、
    ブラウザのない実行（nbval などの自動テスト）で止まることがあった。ここでは図を PNG に
    してから、出力欄の中身（outputs）を直接書き換える。ipywidgets 7.7 と 8 のどちらでも動く。
    """
    outputs = ()
    if fig is not None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                             "text/plain": "<図>"}},)
    output.outputs = outputs


def _names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    return list(class_names) if class_names else [str(k) for k in range(num_classes)]


class PredictionExplorer(NeedsPackages):
    """スライダーで画像（検証データなど）を選び、画像とクラス確率の棒グラフを表示する部品。"""

    packages = NEEDS

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                 images=None, class_names: Sequence[str] | None = None,
                 device: torch.device | str = "cpu") -> None:
        self.probs = class_probabilities(model, X, device)  # 最初に全部計算しておく
        self.y = y.cpu()
        self.images = X if images is None else images
        self.class_names = _names(class_names, self.probs.shape[1])
        self.slider = widgets.IntSlider(value=0, min=0, max=len(self.y) - 1,
                                        description="画像の番号", continuous_update=False)
        self.output = widgets.Output()
        self.shown_index: int | None = None
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.widget = widgets.VBox([self.slider, self.output])

    def figure(self, index: int) -> Figure:
        """index 番の画像と、そのクラス確率の棒グラフを描いた図を返す。"""
        probs = self.probs[index].numpy() * 100
        true, pred = int(self.y[index]), int(probs.argmax())
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4),
                                          gridspec_kw={"width_ratios": [1, 2]})
        left.imshow(as_images(self.images[index:index + 1])[0], cmap="gray_r")
        left.set_title(f"{index} 番（正解 {self.class_names[true]}）")
        left.axis("off")
        colors = ["tab:gray"] * len(probs)
        colors[pred] = "tab:green" if pred == true else "tab:red"
        bars = right.bar(range(len(probs)), probs, color=colors)
        right.bar_label(bars, fmt="%.1f", fontsize=9)
        right.set_xticks(range(len(probs)), self.class_names)
        right.set_ylim(0, 112)
        right.set_xlabel("クラス")
        right.set_ylabel("確率 [%]")
        verdict = "正解" if pred == true else "不正解"
        right.set_title(f"予測 {self.class_names[pred]}（{verdict}、緑: 正解、赤: 不正解）")
        fig.tight_layout()
        return fig

    def show(self, index: int) -> None:
        """出力欄を index 番の図で描き直す。"""
        self.shown_index = index
        show_figure(self.output, self.figure(index))

    def _ipython_display_(self) -> None:
        display(self.widget)
        self.show(self.slider.value)


class MistakesBrowser(NeedsPackages):
    """間違えた画像（検証データなど）を、正解と予測のクラスで絞り込み、ページ送りで見る部品。"""

    packages = NEEDS

    def __init__(self, images, y: torch.Tensor, y_pred: torch.Tensor,
                 class_names: Sequence[str] | None = None, per_page: int = 8) -> None:
        self.images, self.y, self.y_pred = images, y.cpu().reshape(-1), y_pred.cpu().reshape(-1)
        num_classes = int(max(self.y.max(), self.y_pred.max())) + 1
        self.class_names = _names(class_names, num_classes)
        self.per_page, self.page = per_page, 0
        options = [("すべて", ALL)] + [(name, k) for k, name in enumerate(self.class_names)]
        self.true_filter = widgets.Dropdown(options=options, value=ALL, description="正解")
        self.pred_filter = widgets.Dropdown(options=options, value=ALL, description="予測")
        self.previous = widgets.Button(description="◀ 前へ")
        self.next = widgets.Button(description="次へ ▶")
        self.status = widgets.Label()
        self.output = widgets.Output()
        for dropdown in (self.true_filter, self.pred_filter):
            dropdown.observe(lambda change: self.go_to(0), names="value")
        self.previous.on_click(lambda button: self.go_to(self.page - 1))
        self.next.on_click(lambda button: self.go_to(self.page + 1))
        self.widget = widgets.VBox([
            widgets.HBox([self.true_filter, self.pred_filter]),
            widgets.HBox([self.previous, self.next, self.status]), self.output])

    def selected(self) -> torch.Tensor:
        """絞り込みに合う、間違えた画像の番号を返す。"""
        keep = self.y != self.y_pred
        if self.true_filter.value != ALL:
            keep &= self.y == self.true_filter.value
        if self.pred_filter.value != ALL:
            keep &= self.y_pred == self.pred_filter.value
        return torch.nonzero(keep).flatten()

    def pages(self) -> int:
        return max(1, -(-len(self.selected()) // self.per_page))  # 切り上げ

    def go_to(self, page: int) -> None:
        """page ページ目（0 から）を表示する。範囲の外なら端のページにする。"""
        self.page = min(max(page, 0), self.pages() - 1)
        self.show()

    def show(self) -> None:
        chosen = self.selected()
        start = self.page * self.per_page
        shown = chosen[start:start + self.per_page]
        self.status.value = (f"{len(chosen)} 枚中 {start + 1}〜{start + len(shown)} 枚目"
                             if len(shown) else "この組み合わせの間違いはありません")
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages() - 1
        fig = None
        if len(shown):
            fig = show_predictions(self.images[shown], self.y[shown], self.y_pred[shown],
                                   class_names=self.class_names, ncols=self.per_page,
                                   title="間違えた画像（T: 正解, P: 予測）")
        show_figure(self.output, fig)

    def _ipython_display_(self) -> None:
        display(self.widget)
        self.show()
