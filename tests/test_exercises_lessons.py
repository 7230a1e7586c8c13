"""レッスンと問題の選び方（issue 17 の 7 のうち演習の部分）と、演習のパッケージの形。

- 答え合わせのない問題（05 の q2 など）を呼んでも AttributeError にならず、ある問題を日本語で並べる。
- exercises(5)・exercises("5") は "05" と同じ。ないレッスン（"9" など）は 00〜08 を並べた日本語の文で断る。
- 05 の F1 を Python の数で書いて 0 で割ると、用意した日本語の説明になる。
- core は lessonNN を import しない（矢印は一方向）。答えの受け取り方は core にだけある。
"""

import ast
import re
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from course_utils.exercises import ExerciseError, exercises

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PACKAGE = ROOT / "course_utils" / "exercises"
QUESTIONS = {"00": ["q1", "q2", "q3"], "01": ["q1", "q2", "q4"],
             "02": ["q1", "q2", "q3", "q4"], "03": ["q1"],
             "04": ["q1", "q2", "q3"], "05": ["q1", "q3", "q5"], "06": ["q1", "q2", "q3"],
             "07": ["q1", "q2", "q3"], "08": ["q1", "q2", "q3"]}


# --- ない問題 ----------------------------------------------------------------------------------

def test_a_question_without_a_checker_lists_the_ones_that_exist(capsys):
    ex = exercises("05")
    for call in (lambda: ex.q2.hint(), lambda: ex.q2.check(0.5), lambda: ex.q4.solution()):
        call()
        out = capsys.readouterr().out
        assert "の答え合わせはありません。答え合わせがある問題: q1, q3, q5。" in out, out
        assert "折りたたみの解答例で確かめてください" in out
    assert ex.q2.evaluate(0.5) == (False, ex.q2.message)
    assert "レッスン 05 の演習に q2 の答え合わせはありません" in ex.q2.message
    exercises("03").q3.hint()
    assert "答え合わせがある問題: q1。" in capsys.readouterr().out


def test_other_missing_attributes_still_raise_attribute_error():
    ex = exercises("05")
    assert not hasattr(ex, "_repr_html_")  # Jupyter が表示の前に調べる名前
    assert not hasattr(ex, "check")
    with pytest.raises(AttributeError):
        ex.foo


def test_each_lesson_has_its_questions_and_a_readable_summary():
    for lesson, names in QUESTIONS.items():
        ex = exercises(lesson)
        assert list(ex.questions) == names
        assert all(hasattr(getattr(ex, name), "check") for name in names)
        assert f"レッスン {lesson} の演習" in repr(ex) and all(f"  {n}: " in repr(ex) for n in names)
        assert set(names) <= set(dir(ex))


def test_hint_state_is_per_call_of_exercises(capsys):
    first = exercises("01")
    first.q2.hint()
    first.q2.hint()
    exercises("01").q2.hint()  # 作り直した演習はヒント 1 から
    assert capsys.readouterr().out.splitlines()[-1].startswith("ヒント 1/2")


# --- レッスン番号 ------------------------------------------------------------------------------

@pytest.mark.parametrize("lesson", [5, "5", "05", " 05 ", "０５", np.int64(5), "05_four_vs_nine",
                                    "05_four_vs_nine.ipynb"])
def test_lesson_numbers_are_read_leniently(lesson):
    assert list(exercises(lesson).questions) == QUESTIONS["05"]
    assert exercises(lesson).lesson == "05"


@pytest.mark.parametrize("lesson", [8, "8", "08", "０８", "08_transfer_learning.ipynb"])
def test_lesson_08_is_found_by_its_number(lesson):
    assert list(exercises(lesson).questions) == QUESTIONS["08"]
    assert exercises(lesson).lesson == "08"


@pytest.mark.parametrize("lesson", [9, "9", "09", 99, "99"])
def test_a_lesson_without_exercises_lists_00_to_08(lesson):
    with pytest.raises(ExerciseError) as info:
        exercises(lesson)
    message = str(info.value)
    assert re.fullmatch(r"レッスン \d\d の演習はありません。演習があるレッスンは 00, 01, 02, 03, 04, 05, 06, 07, 08 "
                        r"です（例: exercises\(\"05\"\)）。", message), message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("lesson, shown", [("abc", "文字列 'abc'（str）"), (None, "None"),
                                           (4.5, "小数 4.5（float）"), (True, "真偽値 True（bool）"),
                                           (-1, "整数 -1（int）"), ("", "文字列 ''（str）")])
def test_something_that_is_not_a_lesson_number_is_named(lesson, shown):
    with pytest.raises(ExerciseError, match="exercises にはレッスンの番号を渡してください") as info:
        exercises(lesson)
    assert f"渡されたもの: {shown}" in str(info.value)
    assert "演習があるレッスンは 00, 01, 02, 03, 04, 05, 06, 07, 08 です" in str(info.value)


def test_the_error_shows_without_a_traceback_in_jupyter():
    with pytest.raises(ExerciseError) as info:
        exercises("9")
    lines = info.value._render_traceback_()  # IPython はトレースバックの代わりにこれを表示する
    assert len(lines) == 1 and "レッスン 09 の演習はありません" in lines[0]


# --- 05 の F1 で 0 で割る -------------------------------------------------------------------------

def f1_with_python_floats(y, y_pred):
    tp = float(((y_pred == 1) & (y == 1)).sum())
    precision = tp / float((y_pred == 1).sum())  # 「9」と 1 枚も判定しないと 0 で割る
    recall = tp / float((y == 1).sum())
    return 2 * precision * recall / (precision + recall)


def f1_with_lists(y, y_pred):
    y, y_pred = y.tolist(), y_pred.tolist()
    tp = sum(1 for a, b in zip(y, y_pred) if a == b == 1)
    precision, recall = tp / y_pred.count(1), tp / y.count(1)
    return 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("f1", [f1_with_python_floats, f1_with_lists])
def test_f1_dividing_by_zero_with_python_numbers_gets_the_prepared_message(f1):
    correct, message = exercises("05").q3.evaluate(f1)
    assert not correct
    assert message == ("✗ y=[0, 1, 0, 1], y_pred=[0, 0, 0, 0] で ZeroDivisionError になりました。"
                       "「9」と 1 枚も判定しないとき 0 で割っています。その場合は 0 を返します。"), message


def test_f1_dividing_by_zero_with_tensors_gets_the_same_advice():
    def with_tensors(y, y_pred):
        tp = ((y_pred == 1) & (y == 1)).sum().float()
        p, r = tp / (y_pred == 1).sum(), tp / (y == 1).sum()
        return 2 * p * r / (p + r)  # nan になる

    correct, message = exercises("05").q3.evaluate(with_tensors)
    assert message == "✗ 「9」と 1 枚も判定しないとき 0 で割っています。その場合は 0 を返します。"


def test_f1_other_errors_are_not_mistaken_for_division_by_zero():
    correct, message = exercises("05").q3.evaluate(lambda y, y_pred: y.nonexistent)
    assert "エラーになりました: AttributeError" in message and "0 で割っています" not in message


# --- パッケージの形 ----------------------------------------------------------------------------------

def imported_modules(path):
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_the_package_is_a_small_core_and_one_short_module_per_lesson():
    files = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert files == ["__init__.py", "core.py", *[f"lesson{n}.py" for n in QUESTIONS]]
    assert not (ROOT / "course_utils" / "exercises.py").exists()
    for lesson in QUESTIONS:
        assert len((PACKAGE / f"lesson{lesson}.py").read_text().splitlines()) <= 150


def test_imports_point_one_way_from_lessons_to_core():
    core_imports = imported_modules(PACKAGE / "core.py")
    # core は講座の一番下の層（時間の上限 course_utils.time_limit。講座の何も import しない）だけを使う
    bottom = {"course_utils.time_limit"}
    assert not any("lesson" in name or name.startswith(".") or
                   ("course_utils" in name and name not in bottom) for name in core_imports), core_imports
    assert not any("course_utils" in name for name in imported_modules(ROOT / "course_utils" / "time_limit.py"))
    for lesson in QUESTIONS:
        names = imported_modules(PACKAGE / f"lesson{lesson}.py")
        relative = [n for n in names if n.startswith(".")]
        assert relative == [".core"], (lesson, names)
        assert not any("exercises" in n for n in names), (lesson, names)


def test_answer_coercion_lives_only_in_core():
    """数やテンソルへの変換（float(...)、torch.as_tensor、numbers）はレッスンのファイルに書かない。"""
    for lesson in QUESTIONS:
        source = (PACKAGE / f"lesson{lesson}.py").read_text()
        for pattern in (r"\bfloat\(answer", r"as_tensor\(", r"import numbers", r"def _?number\(",
                        r"def _?tensor\(", r"isinstance\(\w+, numbers"):
            assert not re.search(pattern, source), (lesson, pattern)


def test_pyproject_ships_the_exercises_subpackage():
    """Colab は pip install（編集可能でない）で入れるので、サブパッケージも packages に載せる。"""
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    on_disk = sorted(".".join(p.parent.relative_to(ROOT).parts)
                     for p in (ROOT / "course_utils").rglob("__init__.py"))
    assert sorted(packages) == on_disk


def test_public_names_stay_importable():
    from course_utils.exercises import VIT_B16_PARAMS, Exercise
    from course_utils.exercises.core import MAX_ELEMENTS, TIME_LIMIT_S

    assert VIT_B16_PARAMS == 86_567_656 and callable(Exercise)
    assert MAX_ELEMENTS >= 1_000_000 and TIME_LIMIT_S >= 5
    assert isinstance(exercises("07").q2.evaluate(torch.tensor(173.1))[0], bool)
