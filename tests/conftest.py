"""単体テストの共通設定（ノートブック用の設定は notebook_plugin.py）。"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # 単体テストの図は画面に出さない

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("COURSE_DATA_DIR")


def has_full_mnist() -> bool:
    """COURSE_DATA_DIR に本物の MNIST があるときだけ True（ないならそのテストは飛ばす）。"""
    return bool(DATA_DIR) and (Path(DATA_DIR) / "MNIST" / "raw").is_dir()


needs_full_mnist = pytest.mark.skipif(
    not has_full_mnist(), reason="COURSE_DATA_DIR に本物の MNIST がありません")


@pytest.fixture
def full_mode(monkeypatch):
    """クイックモードを外し、本物の MNIST を使う状態にする。"""
    if not has_full_mnist():
        pytest.skip("COURSE_DATA_DIR に本物の MNIST がありません")
    monkeypatch.delenv("COURSE_QUICK", raising=False)
