"""テスト全体の設定: ノートブックはクイックモードで実行し、1 冊ごとの時間上限を守らせる。"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import matplotlib
import pytest

# nbval が起動するカーネルもこの環境変数を受け継ぐ
os.environ["COURSE_QUICK"] = "1"
matplotlib.use("Agg")  # 単体テストの図は画面に出さない

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("COURSE_DATA_DIR")

# クイックモードでの 1 冊あたりの上限（秒）。載っていないノートブックは既定値。
NOTEBOOK_BUDGET_S = {"00_setup.ipynb": 60}
DEFAULT_BUDGET_S = 90
_spent: dict[str, float] = defaultdict(float)


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    path = Path(str(item.fspath))
    if path.suffix != ".ipynb" or report.when != "call":
        return
    before = _spent[path.name]
    _spent[path.name] += report.duration
    budget = NOTEBOOK_BUDGET_S.get(path.name, DEFAULT_BUDGET_S)
    # 上限を越えたセルで一度だけ失敗させる
    if before <= budget < _spent[path.name] and report.passed:
        report.outcome = "failed"
        report.longrepr = (f"{path.name} はクイックモードで {_spent[path.name]:.0f} 秒かかり、"
                           f"上限 {budget} 秒を超えました。")


def pytest_terminal_summary(terminalreporter):
    if _spent:
        terminalreporter.write_sep("-", "ノートブックの実行時間（クイックモード、セルの合計）")
        for name, seconds in sorted(_spent.items()):
            budget = NOTEBOOK_BUDGET_S.get(name, DEFAULT_BUDGET_S)
            terminalreporter.write_line(f"{name}: {seconds:.1f} 秒（上限 {budget} 秒）")
