from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from course_utils import data
from course_utils.data import FastLoader, four_vs_nine, load_mnist, mnist_loaders, to_tensors
from conftest import DATA_DIR, ROOT, needs_full_mnist


def test_normalization_choices():
    image = np.array([[0, 128, 255]], dtype=np.uint8)
    x = image.astype(np.float32) / 255
    mnist = data.mnist_transform("mnist")(image)
    assert mnist.shape == (1, 1, 3)  # (C, H, W)
    assert torch.allclose(mnist, torch.tensor((x - 0.1307) / 0.3081).reshape(1, 1, 3))
    half = data.mnist_transform("half")(image)
    assert half.min() == -1 and half.max() == 1
    assert torch.allclose(data.mnist_transform(None)(image), torch.tensor(x).reshape(1, 1, 3))
    with pytest.raises(ValueError, match="normalize"):
        data.normalization("imagenet")


def test_quick_subset_is_small_stratified_and_used_in_quick_mode():
    path = resources.files("course_utils").joinpath(data.QUICK_FILE)
    assert Path(str(path)).stat().st_size <= 2 * 1024 * 1024
    train, test = load_mnist(train=True), load_mnist(train=False)
    assert isinstance(train, datasets.MNIST)
    assert (len(train), len(test)) == (5000, 1000)
    assert torch.bincount(train.targets).tolist() == [500] * 10
    assert torch.bincount(test.targets).tolist() == [100] * 10
    X, y = train[0]
    assert X.shape == (1, 28, 28) and X.dtype == torch.float32 and isinstance(y, int)
    assert "クイックモード" in repr(train)


@needs_full_mnist
def test_quick_subset_is_reproducible_from_full_mnist():
    from scripts.make_quick_subset import build_subset

    rebuilt = build_subset(Path(DATA_DIR) / "MNIST" / "raw")
    with resources.files("course_utils").joinpath(data.QUICK_FILE).open("rb") as f:
        shipped = dict(np.load(f))
    assert shipped.keys() == rebuilt.keys()
    for key in shipped:
        assert np.array_equal(shipped[key], rebuilt[key]), key


def test_full_mode_loads_real_mnist(full_mode):
    train, test = load_mnist(train=True), load_mnist(train=False)
    assert (len(train), len(test)) == (60000, 10000)
    assert train.targets[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert abs(float(train.data.float().mean() / 255) - 0.1307) < 1e-4
    reference = datasets.MNIST(DATA_DIR, train=True, transform=transforms.ToTensor())
    ours = load_mnist(train=True, normalize=None)
    for i in (0, 1234, 59999):
        assert torch.equal(ours[i][0], reference[i][0]) and ours[i][1] == reference[i][1]


def test_four_vs_nine_keeps_only_fours_and_nines():
    train = load_mnist(train=True)
    subset = four_vs_nine(train)
    is_four, is_nine = train.targets == 4, train.targets == 9
    assert len(subset) == int(is_four.sum() + is_nine.sum())
    assert subset.classes == ["4", "9"]
    assert torch.equal(subset.data[subset.targets == 1], train.data[is_nine])
    assert torch.equal(subset.data[subset.targets == 0], train.data[is_four])


def _collect(loader):
    X, y = zip(*loader)
    return torch.cat(X), torch.cat(y)


def test_fast_loader_yields_the_same_samples_as_dataloader():
    test = load_mnist(train=False)
    X_ref, y_ref = _collect(DataLoader(test, batch_size=64))
    fast = FastLoader.from_dataset(test, batch_size=64)
    assert len(fast) == len(DataLoader(test, batch_size=64)) == 16
    X, y = _collect(fast)
    assert torch.allclose(X, X_ref, atol=1e-6) and torch.equal(y, y_ref)
    assert all(b[0].stride() == (784, 784, 28, 1) for b in fast)  # DataLoader と同じ標準の並び
    last = FastLoader.from_dataset(test, batch_size=64, channels_last=True)
    assert all(b[0].stride() == (784, 1, 28, 1) for b in last)  # 頼んだときだけ channels_last
    sizes = [len(b[1]) for b in fast]
    assert sizes[:-1] == [64] * 15 and sizes[-1] == 1000 - 15 * 64


def test_fast_loader_shuffles_reproducibly_without_losing_samples():
    test = load_mnist(train=False, normalize="half")
    X_ref, y_ref = to_tensors(test, "half")
    fast = FastLoader.from_dataset(test, "half", batch_size=100, shuffle=True, seed=1)
    epoch1, epoch2 = _collect(fast), _collect(fast)
    again = _collect(FastLoader.from_dataset(test, "half", batch_size=100, shuffle=True, seed=1))
    assert not torch.equal(epoch1[1], y_ref)  # 並びは変わる
    assert not torch.equal(epoch1[1], epoch2[1])  # エポックごとに違う順
    assert torch.equal(epoch1[0], again[0])  # 同じシードなら同じ順
    # 各画像がちょうど 1 回ずつ、正しいラベルと一緒に出てくる
    key = lambda X: (X.flatten(1) * torch.arange(784)).sum(1)  # noqa: E731
    order, order_ref = key(epoch1[0]).argsort(), key(X_ref).argsort()
    assert torch.equal(epoch1[0][order], X_ref[order_ref])
    assert torch.equal(epoch1[1][order], y_ref[order_ref])


def test_fast_loader_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="件数が違います"):
        FastLoader(torch.zeros(3, 1, 28, 28), torch.zeros(2))


@pytest.mark.parametrize("fast", [False, True])
def test_mnist_loaders(fast):
    train_loader, test_loader = mnist_loaders(batch_size=256, fast=fast)
    X, y = next(iter(train_loader))
    assert X.shape == (256, 1, 28, 28) and y.shape == (256,)
    assert sum(len(b[1]) for b in test_loader) == 1000


def test_quick_mode_never_touches_files_or_network(monkeypatch, tmp_path):
    from course_utils import mnist_files

    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setattr(mnist_files.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("クイックモードで通信してはいけない"))
    assert len(load_mnist(train=True)) == 5000


def test_random_shift_moves_each_image_by_at_most_max_shift():
    from course_utils.data import random_shift

    X = torch.zeros(200, 1, 28, 28)
    X[:, 0, 14, 14] = 1.0  # 中央に 1 画素だけ
    torch.manual_seed(0)
    shifted = random_shift(X, max_shift=2)
    assert shifted.shape == X.shape and shifted.sum().item() == 200  # 画素は消えない
    where = shifted[:, 0].flatten(1).argmax(1)
    rows, cols = where // 28, where % 28
    assert rows.sub(14).abs().max() <= 2 and cols.sub(14).abs().max() <= 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25  # 5 × 5 通りのずれがすべて出る


def test_train_val_split_matches_random_split():
    from torch.utils.data import random_split

    from course_utils.data import train_val_split

    X = torch.arange(100).reshape(100, 1).float()
    y = torch.arange(100)
    X_train, y_train, X_val, y_val = train_val_split(X, y, num_val=10, seed=3)
    part_train, part_val = random_split(range(100), [90, 10],
                                        generator=torch.Generator().manual_seed(3))
    assert y_train.tolist() == list(part_train) and y_val.tolist() == list(part_val)
    assert torch.equal(X_val[:, 0].long(), y_val)  # 画像とラベルの組は崩れない
    assert sorted(y_train.tolist() + y_val.tolist()) == list(range(100))


def test_train_val_split_rejects_impossible_sizes():
    from course_utils.data import train_val_split

    with pytest.raises(ValueError, match="num_val は 1 以上 9 以下"):
        train_val_split(torch.zeros(10, 1), torch.zeros(10), num_val=10)


class _ViewFlattenCNN(torch.nn.Module):
    """公開のチュートリアルによくある、x.view(x.size(0), -1) で平らにする CNN。"""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 28 * 28, 10)

    def forward(self, x):
        x = self.conv(x)
        return self.fc(x.view(x.size(0), -1))


def test_fast_loader_batches_work_with_view_flattening_models():
    X, y = torch.randn(40, 1, 28, 28), torch.randint(0, 10, (40,))
    model = _ViewFlattenCNN()
    for X_batch, _ in FastLoader(X, y, batch_size=16, shuffle=True, seed=0):
        assert model(X_batch).shape == (len(X_batch), 10)
        assert model(data.random_shift(X_batch)).shape == (len(X_batch), 10)


def test_random_shift_keeps_the_memory_layout():
    X = torch.randn(8, 1, 28, 28)
    for layout in (torch.contiguous_format, torch.channels_last):
        batch = X.to(memory_format=layout)
        assert data.random_shift(batch).stride() == batch.stride()
