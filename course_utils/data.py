"""MNIST を torchvision のデータセット・DataLoader・高速ローダーとして用意する。"""

from __future__ import annotations

from importlib import resources
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from course_utils.mnist_files import mnist_root, read_idx
from course_utils.setup import is_quick

# MNIST 訓練画像の画素値（0〜1）の平均と標準偏差
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
QUICK_FILE = "quick_mnist.npz"  # クイックモード用の小さな部分集合（scripts/ で作成）


def normalization(normalize: str | None) -> tuple[float, float] | None:
    """正規化の種類から (平均, 標準偏差) を返す。

    "mnist": MNIST 自身の平均 0.1307・標準偏差 0.3081 で、平均 0・分散 1 に近づける。
    "half" : (0.5, 0.5) で、[0, 1] の画素値を [-1, 1] に写す。
    None   : 正規化しない（ToTensor の [0, 1] のまま）。
    """
    choices = {"mnist": (MNIST_MEAN, MNIST_STD), "half": (0.5, 0.5), None: None}
    if normalize not in choices:
        raise ValueError(f"normalize は 'mnist'・'half'・None のどれかです: {normalize!r}")
    return choices[normalize]


def mnist_transform(normalize: str | None = "mnist") -> transforms.Compose:
    """ToTensor（(H,W) uint8 → (1,H,W) float の [0,1]）と Normalize を並べた変換を返す。"""
    steps: list = [transforms.ToTensor()]
    stats = normalization(normalize)
    if stats is not None:
        steps.append(transforms.Normalize((stats[0],), (stats[1],)))
    return transforms.Compose(steps)


class ArrayMNIST(datasets.MNIST):
    """メモリ上の配列から作る MNIST データセット（torchvision の MNIST と同じ使い方）。"""

    def __init__(self, data: torch.Tensor, targets: torch.Tensor, train: bool,
                 transform=None, classes: list[str] | None = None,
                 source: str = "") -> None:
        # source は表示用（どこから読んだか）。torchvision の root と同じ位置に出る
        datasets.VisionDataset.__init__(self, root=source, transform=transform)
        self.train = train
        self.data = data  # (N, 28, 28) uint8
        self.targets = targets  # (N,) int64
        if classes is not None:
            self.classes = classes


def _quick_arrays(train: bool) -> tuple[np.ndarray, np.ndarray]:
    split = "train" if train else "test"
    with resources.files("course_utils").joinpath(QUICK_FILE).open("rb") as f:
        arrays = np.load(f)
        return arrays[f"{split}_images"], arrays[f"{split}_labels"]


def load_mnist(train: bool = True, normalize: str | None = "mnist",
               transform=None) -> ArrayMNIST:
    """MNIST の訓練用（train=True, 60,000 枚）かテスト用（10,000 枚）を返す。

    クイックモードでは、パッケージに同梱した小さな部分集合を使う（ネットワーク不要）。
    transform を渡すとそれを使い、渡さなければ mnist_transform(normalize) を使う。
    """
    if is_quick():
        images, labels = _quick_arrays(train)
        source = f"course_utils/{QUICK_FILE}（クイックモード用の部分集合）"
    else:
        raw = mnist_root() / "MNIST" / "raw"
        source = str(raw)
        prefix = "train" if train else "t10k"
        images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
        labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
    return ArrayMNIST(
        torch.from_numpy(np.array(images)),
        torch.from_numpy(labels.astype(np.int64)),
        train=train,
        transform=transform or mnist_transform(normalize),
        source=source,
    )


def four_vs_nine(dataset: datasets.MNIST) -> ArrayMNIST:
    """4 と 9 だけを取り出し、ラベルを 4 → 0、9 → 1 に付け替えたデータセットを返す（05 で使う）。"""
    keep = (dataset.targets == 4) | (dataset.targets == 9)
    return ArrayMNIST(
        dataset.data[keep],
        (dataset.targets[keep] == 9).long(),
        train=dataset.train,
        transform=dataset.transform,
        classes=["4", "9"],
        source=f"{dataset.root}（4 と 9 のみ）",
    )


def to_tensors(dataset: datasets.MNIST, normalize: str | None = "mnist"
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """データセット全体を一度に変換し、X (N,1,28,28) の float と y (N,) を返す。

    画像 1 枚ずつ変換する DataLoader と同じ値を、まとめての計算で作る。
    """
    X = dataset.data.unsqueeze(1).float().div(255)  # (N, 1, 28, 28), [0, 1]
    stats = normalization(normalize)
    if stats is not None:
        X = (X - stats[0]) / stats[1]
    return X, dataset.targets.clone()


def train_val_split(X: torch.Tensor, y: torch.Tensor, num_val: int, seed: int = 0
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """訓練データを混ぜて、訓練用と検証用に分ける（01 で導入）。

    torch.utils.data.random_split と同じ並べ替え（同じ seed なら同じ分け方）で、
    最後の num_val 枚を検証用にする。返り値は X_train, y_train, X_val, y_val。
    """
    if not 0 < num_val < len(y):
        raise ValueError(f"検証データの枚数 num_val は 1 以上 {len(y) - 1} 以下にしてください"
                         f"（渡された値: {num_val}）")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    train, val = order[:len(y) - num_val], order[len(y) - num_val:]
    return X[train], y[train], X[val], y[val]


def random_shift(X: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """ミニバッチ (B,1,H,W) の各画像を上下左右にランダムに最大 max_shift 画素ずらす（04 で作成）。"""
    B, _, H, W = X.shape
    m = max_shift
    # 背景（いちばん暗い画素）の値だけの、上下左右に m 画素ずつ大きい画像を作り、真ん中に元の画像を置く。
    # 背景の値はテンソルのまま使う（.item() で CPU に読むと、GPU ではそのたびに計算の終わりを待つ）
    padded = X.amin().expand(B, 1, H + 2 * m, W + 2 * m).clone()
    padded[:, :, m:m + H, m:m + W] = X
    dy, dx = torch.randint(0, 2 * m + 1, (2, B), device=X.device)  # 画像ごとのずれ
    rows = dy[:, None] + torch.arange(H, device=X.device)  # (B, H): 切り出す行の番号
    cols = dx[:, None] + torch.arange(W, device=X.device)  # (B, W): 切り出す列の番号
    batch = torch.arange(B, device=X.device)[:, None, None]
    shifted = padded[batch, 0, rows[:, :, None], cols[:, None, :]]  # (B, H, W)
    out = torch.empty_like(X)  # 入力と同じメモリの並び（FastLoader の channels_last など）で返す
    out.copy_(shifted.unsqueeze(1))  # (B, 1, H, W)
    return out


class FastLoader:
    """データ全体を 1 つのテンソルとしてデバイスに置き、ミニバッチを切り出すローダー。

    DataLoader は画像を 1 枚ずつ変換するので、MNIST のような小さなデータでは
    その待ち時間が計算より長くなる。ここでは変換を最初に一度だけ済ませておく。
    画像 (N, C, H, W) は PyTorch の標準の並びで渡すので、x.view(len(x), -1) のような
    よくある書き方もそのまま動く。channels_last=True にすると channels_last の並びで持つ
    （値と形は同じ。CPU で CNN の学習が速くなることがある。04 で測る）。
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int = 128,
                 shuffle: bool = False, device: torch.device | str = "cpu",
                 seed: int | None = None, channels_last: bool = False) -> None:
        if len(X) != len(y):
            raise ValueError(f"X と y の件数が違います: {len(X)} と {len(y)}")
        if X.ndim == 4 and channels_last:
            X = X.to(memory_format=torch.channels_last)
        else:
            X = X.contiguous()
        self.X, self.y = X.to(device), y.to(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator()
        if seed is None:  # シードを省略したら torch の乱数状態から決める
            seed = int(torch.randint(0, 2**31 - 1, ()).item())
        self.generator.manual_seed(seed)

    @classmethod
    def from_dataset(cls, dataset: datasets.MNIST, normalize: str | None = "mnist",
                     **kwargs) -> "FastLoader":
        """MNIST 型のデータセットから作る。kwargs は FastLoader にそのまま渡す。"""
        X, y = to_tensors(dataset, normalize)
        return cls(X, y, **kwargs)

    def __len__(self) -> int:
        return (len(self.X) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.X)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.X.device)
        else:
            order = None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.X[start:start + self.batch_size], \
                    self.y[start:start + self.batch_size]
            else:
                index = order[start:start + self.batch_size]
                yield self.X[index], self.y[index]


def mnist_loaders(batch_size: int = 128, normalize: str | None = "mnist",
                  fast: bool = False, device: torch.device | str = "cpu",
                  test_batch_size: int = 1000, seed: int = 0
                  ) -> tuple[DataLoader | FastLoader, DataLoader | FastLoader]:
    """MNIST の (train_loader, test_loader) を返す。訓練側だけシャッフルする。

    fast=True なら FastLoader（データ全体を device に置く）、False なら標準の DataLoader。
    """
    train_set = load_mnist(train=True, normalize=normalize)
    test_set = load_mnist(train=False, normalize=normalize)
    if fast:
        return (
            FastLoader.from_dataset(train_set, normalize, batch_size=batch_size,
                                    shuffle=True, device=device, seed=seed),
            FastLoader.from_dataset(test_set, normalize, batch_size=test_batch_size,
                                    device=device),
        )
    generator = torch.Generator().manual_seed(seed)
    return (
        DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=generator),
        DataLoader(test_set, batch_size=test_batch_size),
    )
