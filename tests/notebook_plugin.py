"""pytest プラグイン（pyproject.toml の addopts で常に読み込む）。

ノートブックはクイックモードで実行し、1 冊ごとの時間上限を守らせ、所要時間を表示する。
`pytest notebooks/00_setup.ipynb` のように 1 冊だけ実行しても同じ設定になる。
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

# nbval が起動するカーネルもこの環境変数を受け継ぐ
os.environ["COURSE_QUICK"] = "1"

# クイックモードでの 1 冊あたりの上限（秒、セルの実行時間の合計）。載っていないものは既定値。
NOTEBOOK_BUDGET_S = {"00_setup.ipynb": 60}
DEFAULT_BUDGET_S = 90
spent: dict[str, float] = defaultdict(float)


def budget(name: str) -> int:
    return NOTEBOOK_BUDGET_S.get(name, DEFAULT_BUDGET_S)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    path = Path(str(item.fspath))
    if path.suffix != ".ipynb" or report.when != "call":
        return
    before = spent[path.name]
    spent[path.name] += report.duration
    # 上限を越えたセルで一度だけ失敗させる
    if before <= budget(path.name) < spent[path.name] and report.passed:
        report.outcome = "failed"
        report.longrepr = (f"{path.name} はクイックモードで {spent[path.name]:.0f} 秒かかり、"
                           f"上限 {budget(path.name)} 秒を超えました。")


def pytest_terminal_summary(terminalreporter):
    if spent:
        terminalreporter.write_sep("-", "ノートブックの実行時間（クイックモード、セルの合計）")
        for name, seconds in sorted(spent.items()):
            terminalreporter.write_line(f"{name}: {seconds:.1f} 秒（上限 {budget(name)} 秒）")
