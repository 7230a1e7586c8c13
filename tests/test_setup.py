import json
import random
import subprocess
import sys
import textwrap
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils import name_errors, setup


def test_quick_mode_follows_environment(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert setup.is_quick() and setup.by_mode(full=10, quick=2) == 2
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert not setup.is_quick() and setup.by_mode(full=10, quick=2) == 10
    monkeypatch.delenv("COURSE_QUICK")
    assert not setup.is_quick()


@pytest.mark.parametrize("value", ["１", " 1 ", "y", "1.0", "ON"])
def test_quick_mode_accepts_common_spellings(monkeypatch, capsys, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    setup.setup_notebook(seed=0)
    assert "クイックモード" in capsys.readouterr().out


def test_unknown_quick_value_warns_and_shows_the_banner(monkeypatch, capsys):
    from course_utils import env

    env._warned.clear()
    monkeypatch.setenv("COURSE_QUICK", "2")
    with pytest.warns(UserWarning, match="環境変数 COURSE_QUICK の値「2」は分かりません"):
        setup.setup_notebook(seed=0)
    assert "クイックモード（COURSE_QUICK=2）で実行中" in capsys.readouterr().out
    env._warned.clear()


def test_setup_notebook_says_when_offline(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    setup.setup_notebook(seed=0)
    assert "オフライン（COURSE_OFFLINE=1）: ダウンロードせず" in capsys.readouterr().out


def test_seed_everything_makes_all_generators_repeat():
    setup.seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(3))
    setup.seed_everything(123)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    setup.seed_everything(124)
    assert random.random() != first[0]


def test_get_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert setup.get_device().type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert setup.get_device().type == "cuda"


def test_in_colab_detects_the_colab_module(monkeypatch):
    assert not setup.in_colab()
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert setup.in_colab()


def test_setup_notebook_reports_device_and_quick_banner(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    device = setup.setup_notebook(seed=0)
    out = capsys.readouterr().out
    assert device == setup.get_device()
    assert "デバイス" in out and "クイックモード" in out and "意味がありません" in out
    monkeypatch.delenv("COURSE_QUICK")
    setup.setup_notebook(seed=0)
    assert "クイックモード" not in capsys.readouterr().out


def test_japanese_text_renders_without_missing_glyphs():
    assert setup.register_japanese_font() == "IPAexGothic"
    fig, ax = plt.subplots()
    ax.set_title("学習曲線 ✓ ✗ −1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 「Glyph ... missing」警告があれば失敗
        fig.canvas.draw()
    plt.close(fig)


def test_font_registration_works_without_distutils():
    # distutils を import できない Python（3.12 以降で setuptools なし）を再現する
    code = textwrap.dedent("""
        import sys, warnings
        sys.modules["distutils"] = None
        try:
            import japanize_matplotlib
        except ImportError:
            pass
        else:
            raise SystemExit("distutils を塞げていない")
        sys.modules.pop("japanize_matplotlib", None)
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from course_utils.setup import register_japanese_font
        assert "japanize_matplotlib" not in sys.modules
        assert register_japanese_font() == "IPAexGothic"
        fig, ax = plt.subplots()
        ax.set_xlabel("エポック")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.canvas.draw()
        print("OK")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip() == "OK"


def test_missing_font_warns_in_japanese(monkeypatch):
    monkeypatch.setattr(setup, "japanese_font_path", lambda: None)
    with pytest.warns(UserWarning, match="japanize-matplotlib"):
        assert setup.register_japanese_font() is None


def test_a_name_error_in_a_notebook_gets_a_japanese_hint(monkeypatch, capsys):
    import IPython
    from IPython.core.interactiveshell import InteractiveShell

    from course_utils import setup

    error = NameError("name 'torch' is not defined", name="torch")
    assert "「torch」はまだ定義されていません" in setup.name_error_hint(error)
    assert "準備のセル" in setup.name_error_hint(error)
    assert "exercises(" in setup.name_error_hint(NameError("x", name="ex"))
    shell = InteractiveShell.instance()
    try:
        monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
        setup.explain_name_errors()
        capsys.readouterr()
        shell.run_cell("print(CNN)")  # 準備のセルを実行した後、前のセルを飛ばした
        out = capsys.readouterr().out
        assert "NameError" in out and "「CNN」はまだ定義されていません" in out
    finally:
        InteractiveShell.clear_instance()


def _notebook(tmp_path, *cells):
    path = tmp_path / "03_mlp.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells]
                                + [{"cell_type": "markdown", "source": "import pandas as pd"}]}),
                    encoding="utf-8")
    return path


class FakeShell:
    """IPython のシェルの代わり: user_ns と、set_custom_exc で登録された処理だけを持つ。"""

    def __init__(self, user_ns):
        self.user_ns = user_ns
        self.handler = None

    def set_custom_exc(self, types, handler):
        self.handler = handler

    def showtraceback(self, exc_tuple, tb_offset=None):
        print(f"{exc_tuple[0].__name__}: {exc_tuple[1]}")


def _hint_in_fake_notebook(monkeypatch, capsys, error, user_ns):
    import IPython

    shell = FakeShell(user_ns)
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    setup.explain_name_errors()
    shell.handler(shell, NameError, error, None)
    return capsys.readouterr().out


def test_an_alias_imported_nowhere_in_the_notebook_gets_the_import(monkeypatch, capsys, tmp_path):
    path = _notebook(tmp_path, "import torch\nfrom torch import nn", "%matplotlib inline\nx = 1")
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    out = _hint_in_fake_notebook(monkeypatch, capsys, NameError("np", name="np"),
                                 {"torch": object(), "In": ["", "import torch", "np.zeros(3)"]})
    assert "「np」はこのノートブックのどのセルでも定義されていません" in out
    assert "`import numpy as np` を実行してください" in out
    assert "上のセル" not in out  # 実行していないセルは無いので、上のセルを勧めない


def test_a_name_defined_in_a_skipped_cell_still_says_run_the_cells_above(monkeypatch, tmp_path):
    path = _notebook(tmp_path, "import numpy as np", "class CNN:\n    pass", "model = CNN()")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.chdir(tmp_path)  # __session__ がサーバーからの相対パスでも、カーネルの作業フォルダで見つける
    sources = name_errors.notebook_sources({"__session__": "lessons/03_mlp.ipynb"})
    for name in ("CNN", "np", "model"):
        hint = name_errors.name_error_hint(NameError(name, name=name), {}, sources)
        assert f"「{name}」はまだ定義されていません" in hint and "上から順に実行" in hint


def test_a_typo_suggests_the_names_that_are_defined(tmp_path):
    user_ns = {"model": object(), "history": [], "In": ["", "model = 1"]}
    hint = name_errors.name_error_hint(NameError("modle", name="modle"), user_ns, sources=["model = 1"])
    assert "打ち間違いではありませんか" in hint and "「model」" in hint
    assert "上から順に実行" not in hint
    assert "「cnn」" in name_errors.name_error_hint(NameError("CNN", name="CNN"), {"cnn": 1})
    assert "「print」" in name_errors.name_error_hint(NameError("pirnt", name="pirnt"), {})


def test_without_the_notebook_file_an_alias_gets_both_ways(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert name_errors.notebook_sources({}) is None  # Colab ではノートブックのファイルが分からない
    hint = name_errors.name_error_hint(NameError("plt", name="plt"), {"In": ["", "plt.plot()"]})
    assert "`import matplotlib.pyplot as plt`" in hint and "上から順に実行" in hint


def test_a_name_lost_after_its_cell_ran_says_run_the_cells_above():
    # model = CNN() のセルがエラーで止まると、履歴にはあるが変数は無い
    hint = name_errors.name_error_hint(NameError("model", name="model"),
                                 {"In": ["", "model = CNN()", "fit(model)"]}, sources=None)
    assert "上から順に実行" in hint


def test_defined_names_reads_cells_with_magics_and_skips_broken_ones():
    cell = ("%%time\n!pip list\nimport torch.nn.functional as F\nfor i, (X, y) in []:\n    pass\n"
            "def f():\n    pass\ntry:\n    1\nexcept Exception as e:\n    pass")
    assert {"F", "i", "X", "y", "f", "e"} <= name_errors.defined_names(cell)
    assert name_errors.defined_names("x = (") == set()
    assert "pd" not in name_errors.defined_names("")
