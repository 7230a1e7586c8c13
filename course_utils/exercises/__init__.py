"""演習の答え合わせ: ex = exercises("01") のあと ex.q1.check(答え)、ex.q1.hint()、ex.q1.solution()。

答えはいつも引数で渡す（ノートブックの変数をこっそり読むことはしない）。
check は何が違うかを日本語で言い、答えそのものは言わない。

ファイルの分け方（Kaggle の learntools と同じ形）:
- core.py: 1 問（Exercise）、1 レッスン（Lesson）、答えの受け取り方（数・テンソル・形・関数）、
  学習者のコードの時間の上限、大きさの上限、表示する文。
- lesson00.py … lesson08.py: レッスンごとの問題。ノートブックと並べて読めるよう、1 レッスン 1 ファイル。
矢印は一方向: lessonNN → core。core はレッスンを import しない。
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np

from . import lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08
from .core import Exercise, ExerciseError, Lesson, describe
from .lesson07 import VIT_B16_PARAMS

__all__ = ["exercises", "Exercise", "ExerciseError", "Lesson", "VIT_B16_PARAMS"]

_LESSONS = {"00": lesson00, "01": lesson01, "02": lesson02, "03": lesson03, "04": lesson04,
            "05": lesson05, "06": lesson06, "07": lesson07, "08": lesson08}


def _lesson_number(lesson: Any) -> str | None:
    """5、"5"、"05"、"０５"、"05_four_vs_nine" を "05" にする（読めなければ None）。"""
    if isinstance(lesson, (int, np.integer)) and not isinstance(lesson, (bool, np.bool_)):
        number = int(lesson)
    elif isinstance(lesson, str):
        text = unicodedata.normalize("NFKC", lesson).strip()  # 全角の数字もそろえる
        match = re.fullmatch(r"(\d{1,2})(_\w*)?(\.ipynb)?", text, re.ASCII)
        if not match:
            return None
        number = int(match.group(1))
    else:
        return None
    return f"{number:02d}" if 0 <= number <= 99 else None


def exercises(lesson: str | int) -> Lesson:
    """レッスン番号（"01" など。1 や "1" も可）の演習を、q1, q2, ... を属性に持つ形で返す。"""
    number = _lesson_number(lesson)
    available = ", ".join(_LESSONS)
    if number is None:
        raise ExerciseError(f"exercises にはレッスンの番号を渡してください（渡されたもの: "
                            f"{describe(lesson)}）。演習があるレッスンは {available} です"
                            f"（例: exercises(\"05\")）。")
    if number not in _LESSONS:
        raise ExerciseError(f"レッスン {number} の演習はありません。演習があるレッスンは {available} です"
                            f"（例: exercises(\"05\")）。")
    return Lesson(number, _LESSONS[number].questions())
