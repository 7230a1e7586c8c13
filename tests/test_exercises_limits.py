"""学習者のコードの時間の上限と、答えの大きさの上限（issue 17 の 3）。

終わらない関数は日本語の文で止まり（メインスレッドでは SIGALRM、ほかでは別スレッドで待つのをやめる）、
Ctrl-C はいつも効き、答え合わせのあとにタイマーやシグナルの設定は残らない。
大きすぎる配列は、変換する前に大きさで断る。
"""

import _thread
import resource
import signal
import threading
import time

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from conftest import ROOT
from course_utils.exercises import core, exercises

TIMEOUT_MESSAGE = "秒たっても終わらないので止めました"


@pytest.fixture
def short_limit(monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT_S", 0.5)


def no_timer_left():
    return (signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None))


def forever(*args):
    while True:
        pass


def test_a_function_that_never_returns_is_stopped_in_japanese(short_limit):
    start = time.monotonic()
    correct, message = exercises("01").q1.evaluate(forever)
    assert not correct
    assert message.startswith("✗ 関数 forever を呼ぶと、0.5 秒たっても終わらないので止めました。"), message
    assert "終わらないループ" in message
    assert time.monotonic() - start < 5
    assert no_timer_left()


@pytest.mark.parametrize("lesson, question", [("01", "q4"), ("02", "q4"), ("05", "q3"), ("06", "q3"), ("07", "q3"),
                                              ("08", "q3")])
def test_every_function_exercise_has_the_time_limit(short_limit, lesson, question):
    correct, message = getattr(exercises(lesson), question).evaluate(forever)
    assert not correct and TIMEOUT_MESSAGE in message, message


def test_08_checks_a_fresh_model_quickly_and_leaves_no_timer():
    """08 の q3 は答え合わせのたびに EfficientNet-Lite0 を作るが、1 回は数秒で終わる。"""
    def freeze_except_head(model):
        model.requires_grad_(False)
        model.get_classifier().requires_grad_(True)

    q = exercises("08").q3
    q.evaluate(freeze_except_head)  # 1 回目は timm の import を含む
    start = time.monotonic()
    correct, message = q.evaluate(freeze_except_head)
    assert correct, message
    assert time.monotonic() - start < 5
    assert no_timer_left()


def test_a_model_whose_forward_never_returns_is_stopped(short_limit):
    class Hangs(torch.nn.Module):
        def forward(self, x):
            while True:
                pass

    correct, message = exercises("05").q5.evaluate(Hangs())
    assert not correct and "モデルに形 (3, 1, 28, 28) の入力を通すと、0.5 秒たっても終わらないので止めました" in message


def test_sleeping_and_swallowing_the_stop_still_ends_as_a_timeout(short_limit):
    def sleeps(z):
        time.sleep(60)

    def swallows(z):
        try:
            while True:
                pass
        except BaseException:  # 学習者が何でも捕まえてしまっても
            return torch.softmax(z, 0)

    for function in (sleeps, swallows):
        start = time.monotonic()
        correct, message = exercises("01").q1.evaluate(function)
        assert not correct and TIMEOUT_MESSAGE in message, message
        assert time.monotonic() - start < 5
    assert no_timer_left()


def test_fast_answers_are_not_affected_and_the_timer_is_removed(short_limit):
    correct, _ = exercises("01").q1.evaluate(lambda z: torch.softmax(z, 0))
    assert correct and no_timer_left()


def test_without_sigalrm_a_thread_waits_and_says_the_kernel_needs_a_restart(short_limit, monkeypatch):
    monkeypatch.setattr(core, "_can_use_alarm", lambda: False)
    release = threading.Event()

    def waits(z):
        release.wait(30)  # テストの後で止められるように、終わらない代わりに待つ
        return torch.softmax(z, 0)

    try:
        start = time.monotonic()
        correct, message = exercises("01").q1.evaluate(waits)
        assert not correct
        assert "0.5 秒たっても終わらないので待つのをやめました" in message
        assert "Kernel → Restart でカーネルを再起動してください" in message
        assert time.monotonic() - start < 5
    finally:
        release.set()
    correct, message = exercises("01").q1.evaluate(lambda z: torch.softmax(z, 0))
    assert correct, message  # スレッドで呼んでも、答えはそのまま調べられる
    correct, message = exercises("01").q1.evaluate(lambda z: 1 / 0)
    assert "エラーになりました: ZeroDivisionError" in message


def test_ctrl_c_still_interrupts_with_the_alarm():
    def presses_ctrl_c(z):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C と同じ合図
        forever()

    with pytest.raises(KeyboardInterrupt):
        exercises("01").q1.evaluate(presses_ctrl_c)
    assert no_timer_left()


def test_ctrl_c_still_interrupts_while_waiting_for_a_thread(monkeypatch):
    monkeypatch.setattr(core, "_can_use_alarm", lambda: False)
    release = threading.Event()
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            exercises("01").q1.evaluate(lambda z: release.wait(30))
    finally:
        release.set()
        timer.cancel()


def test_another_timer_is_left_alone(short_limit):
    """ほかの誰かが ITIMER_REAL を使っているときは、それを壊さずにスレッドで待つ。"""
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(True))
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        correct, message = exercises("01").q1.evaluate(lambda z: torch.softmax(z, 0))
        assert correct, message
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 20
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- 大きさの上限 ----------------------------------------------------------------------------

def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("question", ["q2", "q3"])
def test_a_20_million_element_tensor_is_refused_quickly(question):
    big = torch.zeros(20_000_000)
    photo = np.zeros((6, 9, 3), dtype=np.uint8)
    ex = exercises("00")
    before = max_rss_mb()
    start = time.monotonic()
    correct, message = getattr(ex, question).evaluate(big)  # check(big) の 1 つだけ
    assert not correct and "2 つを渡してください" in message and "形 (20000000,)" in message
    correct, message = getattr(ex, question).evaluate((photo, big))
    assert not correct, message
    assert "が大きすぎます（テンソル（形 (20000000,)、torch.float32）、要素 20,000,000 個）" in message
    assert "多くても 10,000,000 個" in message
    correct, message = getattr(ex, question).evaluate((big.reshape(-1, 1000, 4)[:, :, :3], photo))
    assert not correct and "1 つ目の photo が大きすぎます" in message
    assert time.monotonic() - start < 2
    assert max_rss_mb() - before < 300  # 要素ごとに分けると GB 単位で増えていた


def test_big_lists_and_arrays_are_refused_before_conversion():
    ex = exercises("00")
    photo = np.zeros((6, 9, 3))
    start = time.monotonic()
    nested = [[0.0] * 4000] * 4000  # 1,600 万要素（行は同じリストの使い回し）
    correct, message = ex.q3.evaluate((photo, nested))
    assert not correct and "2 つ目の gray が大きすぎます" in message and "要素 16,000,000 個" in message
    correct, message = ex.q2.evaluate((np.zeros((3000, 3000, 3), dtype=np.uint8), photo))
    assert not correct and "大きすぎます（NumPy の配列（形 (3000, 3000, 3)、uint8）" in message
    correct, message = exercises("01").q2.evaluate([0] * 20_000_000)
    assert not correct and "数を 1 つ渡してください" in message and "長さ 20000000" in message
    correct, message = exercises("04").q1.evaluate(tuple(range(1000)))
    assert not correct and "長すぎます" in message
    assert time.monotonic() - start < 3


def test_08_big_shapes_are_refused_quickly():
    """08 の q1（形）に、長い並びや大きな配列・テンソルを渡しても、変換せずにすぐ断る。"""
    q = exercises("08").q1
    start = time.monotonic()
    for answer in (tuple(range(1000)), [0] * 20_000_000):
        correct, message = q.evaluate(answer)
        assert not correct and "長すぎます" in message, message
    for array in (np.zeros(20_000_000, dtype=np.uint8), np.zeros((5000, 4000), dtype=np.uint8)):
        correct, message = q.evaluate(array)
        assert not correct and "NumPy の配列" in message, message
    correct, message = q.evaluate(torch.zeros(1, 1280, 64, 64))
    assert not correct and "テンソルではなく" in message, message
    assert time.monotonic() - start < 2


def test_a_function_returning_something_huge_is_refused():
    correct, message = exercises("01").q1.evaluate(lambda z: torch.zeros(11_000_000))
    assert not correct and "my_softmax が返した値が大きすぎます" in message


# --- 本物のカーネルで -------------------------------------------------------------------------

def test_in_a_jupyter_kernel_hangs_stop_and_unknown_lessons_show_only_japanese():
    """ノートブックと同じくカーネルのメインスレッドで動かし、時間切れとレッスン番号の誤りを見る。"""
    cells = [
        "from course_utils.exercises import core, exercises\ncore.TIME_LIMIT_S = 1\nex = exercises('01')",
        "def my_softmax(z):\n    while True:\n        pass\n\nex.q1.check(my_softmax)",
        "import signal\nprint(signal.getitimer(signal.ITIMER_REAL), signal.getsignal(signal.SIGALRM) == signal.SIG_DFL)",
        "exercises('9')",
        "ex.q3.hint()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, allow_errors=True,
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = [[o.get("text", "") for o in cell.outputs] for cell in nb.cells]
    assert any("関数 my_softmax を呼ぶと、1 秒たっても終わらないので止めました" in t for t in text[1]), text[1]
    assert text[2] == ["(0.0, 0.0) True\n"], text[2]  # タイマーもシグナルの設定も残らない
    error = nb.cells[3].outputs[0]
    assert error.output_type == "error" and error.ename == "ExerciseError"
    shown = "\n".join(error.traceback)
    assert "レッスン 09 の演習はありません。演習があるレッスンは 00, 01, 02, 03, 04, 05, 06, 07, 08 です" in shown
    assert "Traceback" not in shown and "File " not in shown  # 英語のトレースバックは出さない
    assert "q3 の答え合わせはありません" in text[4][0]


def test_in_a_jupyter_kernel_interrupt_stops_a_hanging_check():
    """Kernel → Interrupt（Ctrl-C と同じ SIGINT）は、時間の上限より前でも答え合わせを止める。"""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"))
    try:
        kc.execute_interactive("from course_utils.exercises import core, exercises\n"
                               "core.TIME_LIMIT_S = 120", timeout=60)
        msg_id = kc.execute("def f(z):\n    while True:\n        pass\n\nexercises('01').q1.check(f)")
        time.sleep(2)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=20)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=20)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        # 後始末の確認は、実行結果の返事（shell）に入る user_expressions で読む
        # （iopub の出力は、カーネルの版によって idle の後に届くことがある）
        # ipykernel 6.17（Colab の版）は、エラーの直後に届いた実行の依頼を打ち切る（status が aborted）
        # ことがあるので、打ち切られたら少し待って依頼し直す
        for _ in range(5):
            check_id = kc.execute("import signal", user_expressions={
                "timer": "signal.getitimer(signal.ITIMER_REAL)",
                "default": "signal.getsignal(signal.SIGALRM) == signal.SIG_DFL"})
            reply = kc.get_shell_msg(timeout=30)
            while reply["parent_header"].get("msg_id") != check_id:
                reply = kc.get_shell_msg(timeout=30)
            if reply["content"]["status"] != "aborted":
                break
            time.sleep(1)
        assert reply["content"]["status"] == "ok", reply["content"]
        found = reply["content"]["user_expressions"]
        assert found["timer"]["data"]["text/plain"] == "(0.0, 0.0)"
        assert found["default"]["data"]["text/plain"] == "True"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
