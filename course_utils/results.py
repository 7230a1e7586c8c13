"""ノートブックの主な結果（最終の正解率など）を記録する（scripts/benchmark.py が読む）。"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

RESULTS_ENV = "COURSE_RESULTS_FILE"  # ベンチマークが実行中のノートブックに渡す記録先


def record_result(metric: str, value: float, label: str, percent: bool = True) -> None:
    """結果を 1 行表示し、COURSE_RESULTS_FILE があればそこへ JSON で 1 行追記する（01 以降）。

    metric は英語の短い名前（例: "test_acc"）、label は表示用の日本語、
    percent=True なら value は 0〜1 の割合で、% で表示する。
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{label} の値が数ではありません: {value}")
    print(f"記録: {label} = {format_value(value, percent)}")
    path = os.environ.get(RESULTS_ENV)
    if path:
        line = {"metric": metric, "value": value, "label": label, "percent": percent}
        with Path(path).open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def format_value(value: float, percent: bool) -> str:
    """記録の値を表示用の文字列にする（割合なら %、そうでなければ有効数字 4 桁）。"""
    return f"{value:.2%}" if percent else f"{value:.4g}"


def read_results(path: str | Path) -> dict[str, dict]:
    """record_result が書いたファイルを読み、metric → 記録 の辞書を返す（同じ名前は後勝ち）。"""
    path = Path(path)
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return {item["metric"]: item for item in map(json.loads, filter(None, lines))}
