"""学習者の関数を時間の上限つきで呼ぶ道具（演習の答え合わせと、描く・撮る・写真の部品が使う）。

- call_with_limit: limit 秒で止める。Linux・macOS のメインスレッドでは SIGALRM で本当に止め、
  それ以外（Windows、別のスレッド）では別のスレッドで呼んで待つのをやめる（止められないので裏で動き続ける）。
- timeout_message: 時間切れの日本語の文（演習の答え合わせと部品で同じ文にする）。
- watchdog / call_watched: 止めずに、limit 秒たっても終わらなければ知らせるだけ（07 の全モデルでの分類や
  08 の多くの写真での学習のように、時間のかかる正しい計算を止めないため）。
講座の何も import しない（env と同じいちばん下の層）。
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Any, Callable, Iterator

TIME_LIMIT_S = 15.0  # 学習者の関数を 1 回呼ぶときの上限（秒）
INTERRUPT = "ツールバーの ■（メニューの Kernel → Interrupt）"  # 止めるボタン（JupyterLab と Colab で同じ形）


class _TimeUp(BaseException):
    """SIGALRM の合図。学習者の except Exception に捕まらないよう BaseException にする。"""


class TimedOut(Exception):
    """学習者のコードが時間の上限までに終わらなかった（stopped: 止められたか）。"""

    def __init__(self, stopped: bool, limit: float = 0.0):
        super().__init__()
        self.stopped, self.limit = stopped, limit


def can_use_alarm() -> bool:
    """SIGALRM で止められるか（Linux・macOS のメインスレッドで、ほかにタイマーが動いていないとき）。"""
    return (hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def run_with_alarm(function: Callable, args: tuple, limit: float) -> Any:
    """メインスレッドで呼び、limit 秒で SIGALRM により止める。Ctrl-C（SIGINT）には手を触れない。"""
    state = {"armed": True, "fired": False}

    def on_alarm(signum, frame):
        if state["armed"]:
            state["fired"] = True
            raise _TimeUp

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        try:
            # 学習者のコードが合図を握りつぶしても、0.5 秒ごとにもう一度止めに行く
            signal.setitimer(signal.ITIMER_REAL, limit, 0.5)
            result = function(*args)
        finally:
            state["armed"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    except _TimeUp:
        raise TimedOut(stopped=True, limit=limit) from None
    if state["fired"]:  # 合図を except で握りつぶしてから、上限より後に戻ってきた
        raise TimedOut(stopped=True, limit=limit)
    return result


def run_in_thread(function: Callable, args: tuple, limit: float) -> Any:
    """別のスレッドで呼び、limit 秒だけ待つ（SIGALRM が使えないとき。止められないので裏で動き続ける）。"""
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # noqa: BLE001 呼んだスレッドで伝え直す
            outcome["error"] = error

    worker = threading.Thread(target=target, name="course-learner-code", daemon=True)
    worker.start()
    deadline = time.monotonic() + limit
    while worker.is_alive() and time.monotonic() < deadline:
        worker.join(0.05)  # 短く区切って待つので、待っている間も Ctrl-C が効く
    if worker.is_alive():
        raise TimedOut(stopped=False, limit=limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def call_with_limit(function: Callable, args: tuple = (), limit: float | None = None) -> Any:
    """function(*args) を limit 秒（既定 TIME_LIMIT_S）の上限つきで呼ぶ。終わらなければ TimedOut。"""
    limit = TIME_LIMIT_S if limit is None else limit
    if not limit or limit <= 0:
        return function(*args)
    if can_use_alarm():
        return run_with_alarm(function, args, limit)
    return run_in_thread(function, args, limit)


def timeout_message(action: str, limit: float, stopped: bool) -> str:
    """「〜を呼ぶと、15 秒たっても終わらないので止めました。…」の文（action は「関数 f を呼ぶ」など）。"""
    message = (f"{action}と、{limit:g} 秒たっても終わらないので"
               + ("止めました。" if stopped else "待つのをやめました。")
               + "終わらないループ（while の条件がずっと成り立つなど）や、大きすぎる計算がないか"
                 "確かめてください。")
    if not stopped:
        message += ("この環境では途中で止められないため、裏で動き続けています。"
                    "メニューの Kernel → Restart でカーネルを再起動してください。")
    return message


@contextlib.contextmanager
def watchdog(notice: Callable[[], None], limit: float | None = None) -> Iterator[None]:
    """with の中が limit 秒（既定 TIME_LIMIT_S）たっても終わらなければ、別のスレッドから notice() を 1 度呼ぶ。

    中の計算は止めない。with を抜けたあとに notice が呼ばれることはない。
    """
    limit = TIME_LIMIT_S if limit is None else limit
    done, lock = threading.Event(), threading.Lock()

    def wait() -> None:
        if done.wait(limit):
            return
        with lock:
            if not done.is_set():
                try:
                    notice()
                except Exception:  # noqa: BLE001 知らせが出せなくても、計算には手を触れない
                    pass

    thread = threading.Thread(target=wait, name="course-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with lock:
            done.set()


def slow_message(what: str, limit: float) -> str:
    """止めずに待っているときの知らせ（what は「学習の関数 train_own_classes」など）。"""
    space = " " if what[-1:].isascii() and (what[-1:].isalnum() or what[-1:] in "_)]>") else ""
    return (f"{what}{space}が、{limit:g} 秒たってもまだ終わっていません。このまま待ちます（写真が多いときや"
            f"大きなモデルでは時間がかかります）。終わらないループなどで止まっているなら、{INTERRUPT}で"
            "止めてください。")


def call_watched(function: Callable, args: tuple, what: str, show: Callable[[str], None],
                 limit: float | None = None) -> Any:
    """function(*args) を止めずに呼ぶ。limit 秒たっても終わらなければ show(知らせ) を、終わったら show("") を呼ぶ。"""
    limit = TIME_LIMIT_S if limit is None else limit
    try:
        with watchdog(lambda: show(slow_message(what, limit)), limit):
            return function(*args)
    finally:
        show("")


def function_words(what: str, function: Callable, then: str = "") -> str:
    """「分類の関数 classify_photo」のような呼び名に then（「を呼ぶ」など）を続ける（lambda は「（lambda）」）。"""
    name = getattr(function, "__name__", type(function).__name__)
    return f"{what}の関数（lambda）{then}" if name == "<lambda>" else \
        f"{what}の関数 {name}{' ' if then else ''}{then}"


def in_browser_event(action: Callable, *args: Any) -> Any:
    """ブラウザの操作（描く・押す・選ぶ・撮る）で呼ばれた処理を実行し、思わぬエラーも ■ での中断も日本語で伝える。

    部品の出力欄の中で呼ぶ。ここで捕まえないと、エラーはブラウザのどこにも出ずに消える。
    """
    try:
        return action(*args)
    except KeyboardInterrupt:
        print("✗ 中断しました（■ か Kernel → Interrupt が押されました）。部品はそのまま使えます。")
    except Exception as error:  # noqa: BLE001 部品を動かし続ける
        print(f"✗ 部品の中で思わぬエラーが起きました（{type(error).__name__}: {error}）。"
              "もう一度操作しても直らなければ、このセルを実行し直してください。")
    return None
