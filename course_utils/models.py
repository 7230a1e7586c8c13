"""前のレッスンで作ったモデル（03 の MLP、04 の CNN、05 の小さな CNN）。後のレッスンで比較に使う。

ノートブックに書いたクラスと同じ層・同じパラメータ数であることを
tests/test_models.py が確かめる。
"""

from __future__ import annotations

from torch import nn


class MLP(nn.Module):
    """03 の多層パーセプトロン: 784 → 256 → 128 → 10（ReLU と Dropout）。"""

    def __init__(self, hidden1: int = 256, hidden2: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),                      # (B, 1, 28, 28) → (B, 784)
            nn.Linear(784, hidden1), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden1, hidden2), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden2, 10),            # (B, 10) のロジット
        )

    def forward(self, x):
        return self.layers(x)


class CNN(nn.Module):
    """04 の畳み込みニューラルネットワーク: 畳み込み 2 層 + 全結合 2 層。"""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1), nn.ReLU(),   # (B, 32, 28, 28)
            nn.MaxPool2d(2),                                         # (B, 32, 14, 14)
            nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(),  # (B, 64, 14, 14)
            nn.MaxPool2d(2),                                         # (B, 64, 7, 7)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                            # (B, 3136)
            nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
            nn.Linear(128, 10),                                      # (B, 10)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def make_cnn() -> nn.Sequential:
    """05 の小さな CNN（04 の CNN のチャンネル数と幅を半分にし、出力をロジット 1 つにしたもの）。08 で使う。"""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(),   # (B, 16, 28, 28)
        nn.MaxPool2d(2),                                         # (B, 16, 14, 14)
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(),  # (B, 32, 14, 14)
        nn.MaxPool2d(2),                                         # (B, 32, 7, 7)
        nn.Flatten(),                                            # (B, 1568)
        nn.Linear(32 * 7 * 7, 64), nn.ReLU(),
        nn.Linear(64, 1), nn.Flatten(0),                         # (B,) のロジット
    )
