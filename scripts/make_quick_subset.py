"""クイックモード用の MNIST 部分集合 course_utils/quick_mnist.npz を作り直す。

本物の MNIST から、各クラス同じ枚数を固定シードで選ぶ（層化抽出）。同じ元データと
同じ引数なら、いつ実行しても同じ配列になる（tests/test_data.py が確かめる）。

    COURSE_DATA_DIR=../shared/data python scripts/make_quick_subset.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from course_utils.mnist_files import mnist_root, read_idx

TRAIN_PER_CLASS = 500  # 訓練 5,000 枚
TEST_PER_CLASS = 100  # テスト 1,000 枚
SEED = 20261122


def stratified_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """各クラスから per_class 件ずつ選んだ添字を、昇順に並べて返す。"""
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
              for c in range(10)]
    return np.sort(np.concatenate(picked))


def build_subset(raw: Path) -> dict[str, np.ndarray]:
    """raw/ の IDX ファイルから部分集合の配列一式を作る。"""
    arrays = {}
    for split, prefix, per_class, seed in (("train", "train", TRAIN_PER_CLASS, SEED),
                                           ("test", "t10k", TEST_PER_CLASS, SEED + 1)):
        images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
        labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
        index = stratified_indices(labels, per_class, seed)
        arrays[f"{split}_indices"] = index.astype(np.int32)
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index]
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parents[1] / "course_utils" / "quick_mnist.npz")
    args = parser.parse_args()
    arrays = build_subset(mnist_root(download=True) / "MNIST" / "raw")
    np.savez_compressed(args.out, **arrays)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, "
          f"訓練 {len(arrays['train_labels'])} 枚, テスト {len(arrays['test_labels'])} 枚")


if __name__ == "__main__":
    main()
