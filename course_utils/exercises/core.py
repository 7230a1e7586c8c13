"""演習の答え合わせの土台。各レッスンの問題（lesson00.py … lesson08.py）はここの道具だけを使う。

- Exercise: 1 問。check（答え合わせ）、hint（ヒント）、solution（解答例）。
- Lesson: 1 レッスンの問題の集まり（ex.q1, ex.q3, ...）。ない問題を呼んでも日本語で知らせる。
- 答えの受け取り方: number（数 1 つ）、tensor（数の並び）、shape（形）、pair（check(a, b) の 2 つ）、
  call（学習者の関数を呼ぶ）。NumPy の数、0 次元のテンソル、1 要素のリストも数として受け付ける。
- 学習者のコードには時間の上限（TIME_LIMIT_S）を、渡された配列には大きさの上限（MAX_ELEMENTS）を設ける。
- 表示する文: 正解は「✓ 正解です（題）。」、違えば「✗ 何が違うか」。どちらも日本語で、答えそのものは言わない。

ここはレッスンのモジュールを import しない（矢印は lessonNN → core の一方向）。
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

# 時間の上限の仕組みは部品（描く・撮る・写真）と共通。テストが差し替えられるように、ここの名前で呼ぶ
from course_utils.time_limit import TIME_LIMIT_S, TimedOut, timeout_message
from course_utils.time_limit import can_use_alarm as _can_use_alarm
from course_utils.time_limit import run_in_thread as _run_in_thread
from course_utils.time_limit import run_with_alarm as _run_with_alarm

Problem = str | None  # 正解なら None、違えば何が違うかの説明

MAX_ELEMENTS = 10_000_000  # 答えの配列 1 つの要素数の上限（変換する前に調べる）


# --- 答え合わせの途中で起きること ---------------------------------------------------

class Unanswered(Exception):
    """答えがまだ書かれていない（None のまま、または関数が None を返した）。"""


class AnswerProblem(Exception):
    """答えの種類や形が想定と違う。文は日本語で、そのまま「✗ 」のあとに表示する。"""


class LearnerCodeError(AnswerProblem):
    """学習者の関数やモデルの中でエラーが起きた。original に元のエラーを持つ。"""

    def __init__(self, action: str, original: BaseException):
        self.original = original
        name = type(original).__name__
        gloss = _ERROR_GLOSS.get(name, "")
        detail = _short(str(original), 300)
        super().__init__(
            f"{_sp(action)}と、エラーになりました: {name}"
            + (f"（{gloss}）" if gloss else "")
            + "。別のセルで 1 度そのまま実行して、どの行で止まるか確かめてください。"
            + (f"\n  エラーの文: {detail}" if detail else ""))


class TimeLimitExceeded(AnswerProblem):
    """学習者のコードが時間の上限までに終わらなかった。"""


class ExerciseError(ValueError):
    """exercises() の使い方の誤り。Jupyter では長いトレースバックを出さず、日本語の文だけを表示する。"""

    def _render_traceback_(self) -> list[str]:  # IPython がトレースバックの代わりに表示する
        return [f"\033[31m{self}\033[0m"]


_ERROR_GLOSS = {
    "NameError": "まだ定義されていない名前を使っています。つづりと、上のセルを実行したかを確かめてください",
    "AttributeError": "その値が持っていない属性やメソッドを使っています",
    "TypeError": "型の合わない値どうしで計算しているか、引数の数が合っていません",
    "ValueError": "関数が受け付けない値を渡しています",
    "IndexError": "添字が範囲の外です",
    "KeyError": "辞書にないキーを使っています",
    "ZeroDivisionError": "0 で割っています",
    "RuntimeError": "PyTorch の計算でエラーが起きました。形・型・デバイスが合っていないことがよくあります",
    "OutOfMemoryError": "メモリが足りなくなりました",
    "MemoryError": "メモリが足りなくなりました",
    "RecursionError": "関数が自分自身を呼び続けています",
    "OverflowError": "数が大きすぎます",
    "NotImplementedError": "まだ中身が書かれていない部分を呼んでいます",
    "UnboundLocalError": "値を入れる前の変数を使っています",
}


# --- 表示する文 ----------------------------------------------------------------------

def correct_message(title: str) -> str:
    return f"✓ 正解です（{title}）。"


def wrong_message(problem: str) -> str:
    return f"✗ {problem}"


UNANSWERED = "まだ答えが入っていません。None の所を自分の答えに書き換えてください。"
MORE_HINTS = "行き詰まったら .hint() でヒントを表示できます。"
LAST_HINT = "（これが最後のヒントです。解答例は .solution() で見られます）"


def _sp(text: str) -> str:
    """英数字で終わる言葉に日本語を続けるとき、間を 1 つあける（「関数 f を」「形 (3, 4) の」）。"""
    return f"{text} " if text and text[-1].isascii() and (text[-1].isalnum() or text[-1] in "_>)]'\"") else text


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def describe(value: Any) -> str:
    """渡された値を日本語で短く言う（種類、型の名前、形）。"""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"真偽値 {bool(value)}（{type(value).__name__}）"
    if isinstance(value, torch.Tensor):
        return f"テンソル（形 {tuple(value.shape)}、{value.dtype}）"
    if isinstance(value, np.ndarray):
        return f"NumPy の配列（形 {value.shape}、{value.dtype}）"
    if isinstance(value, np.generic):
        return f"NumPy の数 {_short(repr(value.item()), 30)}（{type(value).__name__}）"
    if isinstance(value, int):
        if value.bit_length() > 64:  # 何千桁もの整数は str にすると止まるので桁数だけ言う
            return f"とても大きな整数（int、{value.bit_length()} ビット）"
        return f"整数 {value}（int）"
    if isinstance(value, float):
        return f"小数 {value!r}（float）"
    if isinstance(value, str):
        return f"文字列 {_short(repr(value), 40)}（str）"
    if isinstance(value, torch.Size):
        return f"形 {tuple(value)}（torch.Size）"
    if isinstance(value, (tuple, list)):
        kind = "タプル" if isinstance(value, tuple) else "リスト"
        if 0 < len(value) <= 3:
            parts = ", ".join(_describe_item(v) for v in value)
            return f"{kind}（{type(value).__name__}、長さ {len(value)}: {parts}）"
        return f"{kind}（{type(value).__name__}、長さ {len(value)}）"
    if isinstance(value, dict):
        return f"辞書（dict、要素 {len(value)} 個）"
    if isinstance(value, torch.nn.Module):
        return f"モデル（{type(value).__name__}）"
    if isinstance(value, type):
        return f"クラス {value.__name__}"
    if inspect.isroutine(value):
        return f"関数 {getattr(value, '__name__', '?')}"
    if callable(value):
        return f"呼び出せる値（{type(value).__name__}）"
    return f"{type(value).__name__} 型の値"


def _describe_item(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"{'タプル' if isinstance(value, tuple) else 'リスト'}（長さ {len(value)}）"
    return describe(value)


# --- 大きさの上限 ---------------------------------------------------------------------

def element_count(value: Any, _depth: int = 0) -> int | None:
    """配列の要素数を、変換せずに見積もる（分からなければ None）。"""
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, np.ndarray):
        return int(value.size)
    if hasattr(value, "getbands") and isinstance(getattr(value, "size", None), tuple):  # PIL の画像
        width, height = value.size
        return width * height * len(value.getbands())
    if isinstance(value, (list, tuple)):
        if not value or _depth > 32:
            return len(value)
        inner = element_count(value[0], _depth + 1)
        return len(value) * (inner or 1)
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, numbers.Integral) for n in shape):
        return math.prod(int(n) for n in shape)
    return None


def check_size(value: Any, what: str = "答え") -> None:
    """要素が MAX_ELEMENTS より多い配列は、変換する前に断る（メモリを使い果たさないように）。"""
    count = element_count(value)
    if count is not None and count > MAX_ELEMENTS:
        raise AnswerProblem(
            f"{_sp(what)}が大きすぎます（{describe(value)}、要素 {count:,} 個）。この問題で扱うのは"
            f"多くても {MAX_ELEMENTS:,} 個です。渡す変数を間違えていないか確かめてください。")


# --- 答えの受け取り方 -------------------------------------------------------------------

def _is_bool_array(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dtype == torch.bool
    return isinstance(value, np.ndarray) and value.dtype == np.bool_


def _number_advice(value: Any) -> str:
    if isinstance(value, str):
        return "引用符で囲まずに、数や式をそのまま書きます。"
    if isinstance(value, (bool, np.bool_)) or _is_bool_array(value):
        return "True / False ではなく数を渡します。True の数を数えるなら .sum() を使います。"
    if callable(value) and not isinstance(value, torch.nn.Module):
        return "関数そのものではなく、計算した結果の数を渡します。"
    if isinstance(value, (torch.Tensor, np.ndarray)) and element_count(value) != 1:
        return "要素が 1 つなら .item() で数になります。合計なら .sum() です。"
    if isinstance(value, (tuple, list)):
        return "並びではなく、数を 1 つだけ渡します。"
    return ""


def number(value: Any, what: str = "答え", *, allow_nan: bool = False) -> float:
    """数 1 つを float で返す。int、float、NumPy の数、要素 1 つのテンソル・配列・リストを受け付ける。"""
    original = value
    while isinstance(value, (list, tuple)) and len(value) == 1:  # [7850] や (7850,)
        value = value[0]

    def refuse(extra: str = "") -> AnswerProblem:
        advice = extra or _number_advice(value)
        return AnswerProblem(f"{_sp(what)}には数を 1 つ渡してください（渡されたもの: {describe(original)}）。"
                             + advice)

    if isinstance(value, (bool, np.bool_)):
        raise refuse()
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if _is_bool_array(value) or element_count(value) != 1:
            raise refuse()
        if isinstance(value, torch.Tensor):
            if value.is_complex() or value.device.type == "meta":
                raise refuse("複素数や中身のないテンソルは使えません。")
            value = value.detach().cpu().reshape(()).item()
        else:
            if value.dtype.kind not in "iuf":
                raise refuse()
            value = value.reshape(()).item()
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            x = float(value)
        except OverflowError:
            raise refuse("数が大きすぎて扱えません。") from None
    else:
        raise refuse()
    if not allow_nan and math.isnan(x):
        raise AnswerProblem(f"{_sp(what)}が nan（数ではない値）です。計算の途中に 0 ÷ 0 や、"
                            "まだ値の入っていない変数がないか確かめてください。")
    if not allow_nan and math.isinf(x):
        raise AnswerProblem(f"{_sp(what)}が無限大（inf）です。どこかで 0 で割っていないか確かめてください。")
    return x


def integer(value: Any, what: str = "答え") -> int:
    """整数 1 つを返す（7.0 のような整数の値の小数も受け付ける）。"""
    x = number(value, what)
    if x != int(x):
        raise AnswerProblem(f"{_sp(what)}が {x:g} で、整数ではありません。数えられるものの数を答えてください。")
    return int(x)


def tensor(value: Any, what: str = "答え") -> torch.Tensor:
    """数の並び（テンソル、NumPy の配列、数のリスト）を CPU の float32 のテンソルにする。元の値は変えない。"""
    check_size(value, what)

    def refuse(extra: str = "") -> AnswerProblem:
        return AnswerProblem(f"{_sp(what)}は数の並び（テンソルや配列）のはずですが、"
                             f"{_sp(describe(value))}が渡されました。" + extra)

    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.device.type == "meta":
            raise refuse("複素数や中身のないテンソルは使えません。")
        return value.detach().to("cpu", torch.float32, copy=True)
    if value is None or isinstance(value, (str, bytes, dict, set, torch.nn.Module)) or callable(value):
        raise refuse("関数を呼んだ結果や、計算した配列を渡します。" if callable(value) else "")
    with warnings.catch_warnings():  # 変換のときの英語の警告は出さない
        warnings.simplefilter("ignore")
        if isinstance(value, (list, tuple)):
            try:
                with torch.no_grad():
                    return torch.as_tensor(value, dtype=torch.float32).clone()
            except Exception:
                pass
        try:
            array = np.asarray(value)
        except Exception:
            raise refuse("長さのそろった数の並びにしてください。") from None
    if array.dtype.kind not in "biuf":
        raise refuse("中身が数ではありません。" if array.dtype.kind in "OUS" else "")
    return torch.from_numpy(array.astype(np.float32))


def pair(answer: Any, usage: str, count: int = 2) -> tuple:
    """check(a, b) のように count 個で渡された答えを、変換せずにタプルで返す。"""
    if isinstance(answer, (tuple, list)) and len(answer) == count:
        return tuple(answer)
    if isinstance(answer, (tuple, list)):
        received = f"{len(answer)} つ（{describe(answer)}）"
    else:
        received = f"1 つ（{describe(answer)}）"
    raise AnswerProblem(f"{usage} のように {count} つを渡してください（渡されたのは {received}）。")


def shape(answer: Any, what: str = "形") -> tuple[int, ...]:
    """形（タプル、リスト、torch.Size）を整数のタプルにする。テンソルそのものは断る。"""
    if isinstance(answer, torch.Tensor):
        raise AnswerProblem(f"テンソルではなく、{what}（.shape かタプル）を渡してください"
                            f"（渡されたもの: {describe(answer)}）。")
    if isinstance(answer, np.ndarray) and answer.ndim == 1 and answer.size <= 32:
        answer = tuple(answer.tolist())
    if not isinstance(answer, (tuple, list, torch.Size)):
        raise AnswerProblem(f"{_sp(what)}は (1, 8, 12, 12) のような整数のタプルで渡してください"
                            f"（渡されたもの: {describe(answer)}）。")
    if len(answer) > 32:
        raise AnswerProblem(f"{_sp(what)}にしては長すぎます（渡されたもの: {describe(answer)}）。"
                            "数個の整数のタプルを渡してください。")
    return tuple(integer(v, f"{_sp(what)}の {i + 1} 番目") for i, v in enumerate(answer))


# --- 学習者のコードを呼ぶ（時間の上限つき） ---------------------------------------------

def run_learner_code(function: Callable, args: tuple, action: str) -> Any:
    """学習者のコードを時間の上限つきで呼ぶ。エラーや時間切れは日本語の AnswerProblem にする。

    action は「関数 my_softmax を呼ぶ」のような、何をしたかの言葉（文の頭に入る）。
    SIGALRM が使えればメインスレッドで呼んで本当に止め、使えなければ別のスレッドで呼んで待つのをやめる。
    """
    limit = TIME_LIMIT_S
    try:
        if not limit or limit <= 0:
            return function(*args)
        if _can_use_alarm():
            return _run_with_alarm(function, args, limit)
        return _run_in_thread(function, args, limit)
    except TimedOut as timeout:
        raise TimeLimitExceeded(timeout_message(_sp(action), limit, timeout.stopped)) from None
    except Exception as error:
        raise LearnerCodeError(action, error) from error


def _parameters_text(function: Callable) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "(?)"


def call(function: Any, *args: Any, usage: str) -> Any:
    """学習者の関数を、引数の写しで呼んで結果を返す。usage は「my_softmax(z)」のような呼び方の例。"""
    if isinstance(function, type) or not callable(function):
        raise AnswerProblem(f"関数そのもの（名前だけ、かっこなし）を渡してください（渡されたもの: "
                            f"{describe(function)}）。check({usage.split('(')[0]}) のように渡します。")
    name = getattr(function, "__name__", type(function).__name__)
    label = "渡された関数（lambda）" if name == "<lambda>" else f"関数 {name}"
    try:
        inspect.signature(function).bind(*args)
    except TypeError:
        raise AnswerProblem(f"{_sp(label)}は {usage} のように引数 {len(args)} つで呼べる関数にしてください"
                            f"（いまの引数: {_parameters_text(function)}）。") from None
    except ValueError:
        pass  # 引数を調べられない関数（組み込み関数など）は、そのまま呼ぶ
    args = tuple(a.detach().clone() if isinstance(a, torch.Tensor) else copy.deepcopy(a) for a in args)
    result = run_learner_code(function, args, f"{_sp(label)}を呼ぶ")
    if result is None:
        raise Unanswered(f"{_sp(label)}が None を返しました（return を書いていないか、return None のままです）。")
    return result


# --- よく使う答え合わせ --------------------------------------------------------------------

def count(expected: int, mistakes: dict[int, str]) -> Callable[[Any], Problem]:
    """整数の答え（パラメータ数など）を調べる。よくある間違いには専用の説明を返す。"""
    def check(answer: Any) -> Problem:
        value = number(answer)
        if value != int(value):
            return f"{value:g} は整数ではありません。数えられるものの数を答えてください。"
        if value == expected:
            return None
        shown = f"{int(value):,}" if abs(value) < 1e15 else f"{value:g}"
        return mistakes.get(int(value), f"{shown} ではありません。式をもう一度確かめてください。")
    return check


# --- 1 問と 1 レッスン -------------------------------------------------------------------

@dataclass
class Exercise:
    """1 問ぶんの演習。checker は答えを受け取り、正解なら None、違えば説明を返す。"""

    title: str
    checker: Callable[[Any], Problem]
    hints: list[str]
    answer: str
    expects: str = ""  # どんな答えを渡すか（思わぬ答えが来たときの説明に使う）
    _hints_shown: int = field(default=0, repr=False)

    def evaluate(self, answer: Any) -> tuple[bool, str]:
        """(正解か, 表示する文) を返す（check の中身。テストでも使う）。"""
        try:
            if answer is None:
                raise Unanswered
            problem = self.checker(answer)
        except Unanswered as unanswered:
            return False, f"まだ答えが入っていません。{unanswered}" if str(unanswered) else UNANSWERED
        except AnswerProblem as problem:
            return False, wrong_message(str(problem))
        except (MemoryError, torch.cuda.OutOfMemoryError):
            return False, wrong_message(f"答えを調べる途中でメモリが足りなくなりました（渡されたもの: "
                                        f"{describe(answer)}）。大きすぎる値を渡していないか確かめてください。")
        except Exception as error:  # 思わぬ答え（または答え合わせの側の誤り）
            expected = f"{self.expects}を渡してください" if self.expects else "問題の指示どおりの答えを渡してください"
            return False, wrong_message(
                f"答えを調べられませんでした。{expected}（渡されたもの: {describe(answer)}）。"
                f"\n  詳しい情報: {type(error).__name__}: {_short(str(error), 200)}")
        if problem is None:
            return True, correct_message(self.title)
        return False, wrong_message(problem)

    def check(self, *answers: Any, **named: Any) -> None:
        """答えを調べて結果を表示する。答えが 2 つ以上の問題は check(答え1, 答え2) と渡す。"""
        if named:
            print(f"check には答えをそのまま渡してください（check(答え) の形で、{', '.join(named)}= は"
                  "付けません）。")
            return
        answer = answers[0] if len(answers) == 1 else (answers or None)
        if isinstance(answer, tuple) and any(a is None for a in answer):
            answer = None
        correct, message = self.evaluate(answer)
        print(message)
        if not correct and self._hints_shown < len(self.hints):
            print(MORE_HINTS)

    def hint(self) -> None:
        """ヒントを 1 つ表示する。呼ぶたびに、より具体的なヒントになる。"""
        if not self.hints:
            print("この問題にはヒントがありません。")
            return
        k = min(self._hints_shown, len(self.hints) - 1)
        last = LAST_HINT if k == len(self.hints) - 1 else ""
        print(f"ヒント {k + 1}/{len(self.hints)}: {self.hints[k]}{last}")
        self._hints_shown = k + 1

    def solution(self) -> None:
        """解答例を表示する。"""
        print(f"解答例（{self.title}）:\n{self.answer}")

    def __call__(self, *answers: Any) -> None:
        print("答え合わせは ex.q1.check(答え) のように .check を付けて呼びます。"
              ".hint() でヒントを、.solution() で解答例を表示します。")

    def __getattr__(self, name: str) -> Any:  # .chek のような打ち間違いを日本語で知らせる
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(f"演習に .{name} はありません。使えるのは .check(答え)、.hint()、"
                             f".solution() です。")


class MissingQuestion:
    """答え合わせのない問題（ex.q2 など）。呼ばれたら、ある問題を日本語で知らせる。"""

    def __init__(self, lesson: str, name: str, existing: list[str]):
        self.message = (f"レッスン {lesson} の演習に {name} の答え合わせはありません。"
                        f"答え合わせがある問題: {', '.join(existing)}。説明や実験を求める問題は、"
                        "ノートブックの折りたたみの解答例で確かめてください。")

    def evaluate(self, answer: Any = None) -> tuple[bool, str]:
        return False, self.message

    def check(self, *answers: Any) -> None:
        print(self.message)

    def hint(self) -> None:
        print(self.message)

    def solution(self) -> None:
        print(self.message)

    def __repr__(self) -> str:
        return self.message


class Lesson:
    """1 レッスンの演習。ex.q1 のように問題を属性で取り出す。"""

    def __init__(self, number: str, questions: dict[str, Exercise]):
        self.lesson = number
        self.questions = dict(questions)
        for name, exercise in questions.items():
            setattr(self, name, exercise)

    def __getattr__(self, name: str) -> Any:  # 属性が見つからないときだけ呼ばれる
        if re.fullmatch(r"[qQ]\d+", name):
            return MissingQuestion(self.__dict__.get("lesson", "?"), name,
                                   list(self.__dict__.get("questions", {})))
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        return [*self.questions, "lesson", "questions"]

    def __repr__(self) -> str:
        lines = [f"レッスン {self.lesson} の演習（ex.q1.check(答え)、.hint()、.solution()）:"]
        lines += [f"  {name}: {exercise.title}" for name, exercise in self.questions.items()]
        return "\n".join(lines)
