"""NameError（定義されていない名前）に、日本語の直し方を添える（00 の準備のセルで有効になる）。

名前がノートブックのどこかで定義されていれば「上のセルを順に実行」、どこにもなければ
import の書き方か、打ち間違いの候補（よく似た定義済みの名前）を伝える。
"""

from __future__ import annotations

import ast
import builtins
import difflib
import dis
import inspect
import json
import os
from pathlib import Path
from typing import Callable, Iterable

# よく使う略称と、それを定義する import 文
COMMON_IMPORTS = {
    "np": "import numpy as np",
    "plt": "import matplotlib.pyplot as plt",
    "torch": "import torch",
    "nn": "from torch import nn",
    "F": "import torch.nn.functional as F",
    "pd": "import pandas as pd",
}
SIMILARITY = 0.75  # difflib で「よく似た名前」とみなす近さ（0〜1）
RUN_ABOVE = ("このセルより上のセルを、上から順に実行したか確かめてください。"
             "カーネルを再起動した（Kernel → Restart）ときは、変数がすべて消えるので、"
             "最初の準備のセルから順に実行し直します（JupyterLab: Run → Run All Above Selected Cell、"
             "Colab: ランタイム → 前のセルを実行）。")
_SHELL_NAMES = {"In", "Out", "exit", "quit", "get_ipython"}


def defined_names(source: str) -> set[str]:
    """セルのソースで定義される名前（代入・import・def・class・for など）。読めないセルは空。"""
    lines = [line for line in source.splitlines()
             if not line.lstrip().startswith(("%", "!"))]  # IPython のマジックは Python ではない
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def notebook_sources(user_ns: dict) -> list[str] | None:
    """いま開いているノートブックのコードセルのソース。ファイルが分からなければ None。

    JupyterLab はカーネルに環境変数 JPY_SESSION_NAME（ipykernel は __session__ にも入れる）、
    VS Code は __vsc_ipynb_file__ でノートブックの場所を伝える。Colab では分からない。
    """
    for value in (user_ns.get("__vsc_ipynb_file__"), user_ns.get("__session__"),
                  os.environ.get("JPY_SESSION_NAME")):
        if not isinstance(value, str) or not value.endswith(".ipynb"):
            continue
        for path in (Path(value), Path.cwd() / Path(value).name):  # カーネルはノートブックのフォルダで動く
            try:
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                return ["".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
    return None


def similar_names(name: str, candidates: Iterable[str]) -> list[str]:
    """name とよく似た名前（大文字・小文字だけの違いも含む）を、似ている順に 3 つまで。"""
    candidates = {c for c in candidates if c != name and not c.startswith("_")}
    same_letters = sorted(c for c in candidates if c.lower() == name.lower())
    close = difflib.get_close_matches(name, sorted(candidates), n=3, cutoff=SIMILARITY)
    return list(dict.fromkeys(same_letters + close))[:3]


def name_error_hint(error: NameError, user_ns: dict | None = None,
                    sources: list[str] | None = None) -> str:
    """NameError に添える、日本語の直し方。

    user_ns: いまある変数（打ち間違いの候補と、実行したセルの履歴 In に使う）。
    sources: ノートブックのコードセルのソース（分からなければ None）。
    """
    name = getattr(error, "name", None) or "その名前"
    user_ns = user_ns or {}
    if name == "ex":
        return (f"「ex」はまだ定義されていません。{RUN_ABOVE}"
                "ex は演習の節の最初のセル（ex = exercises(...)）で作ります。")
    ran = user_ns.get("In")
    ran = [cell for cell in ran if isinstance(cell, str)] if isinstance(ran, list) else []
    in_notebook = any(name in defined_names(cell) for cell in (sources or []) + ran)
    if in_notebook:
        return f"「{name}」はまだ定義されていません。{RUN_ABOVE}"
    known = set(user_ns) - _SHELL_NAMES | set(dir(builtins))
    similar = similar_names(name, known)
    if similar:
        listed = "、".join(f"「{s}」" for s in similar)
        where = "このノートブックのどのセルでも" if sources is not None else "まだ"
        return (f"「{name}」は{where}定義されていません。打ち間違いではありませんか"
                f"（よく似た名前の{listed}なら定義されています）。")
    statement = COMMON_IMPORTS.get(name)
    if statement and sources is not None:
        return (f"「{name}」はこのノートブックのどのセルでも定義されていません。"
                f"使う前に `{statement}` を実行してください（準備のセルに書き足すと、次からも使えます）。")
    if statement:
        return (f"「{name}」はまだ定義されていません。このノートブックでまだ import していなければ、"
                f"`{statement}` を実行してください。"
                f"import するセルがあるなら、{RUN_ABOVE}")
    if sources is not None:
        return (f"「{name}」はこのノートブックのどのセルでも定義されていません。"
                "綴りを確かめるか、使う前に代入や def で定義してください。")
    return f"「{name}」はまだ定義されていません。{RUN_ABOVE}"


def explain_name_errors() -> None:
    """Jupyter で NameError が起きたら、いつものエラー表示の後に日本語の直し方を添える。

    準備のセル（setup_notebook）を実行した後のセルにだけ効く。カーネルを再起動した直後は
    この仕組みも消えているので、英語のエラーだけが表示される。
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell, etype, value, tb, tb_offset=None):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        try:
            hint = name_error_hint(value, shell.user_ns, notebook_sources(shell.user_ns))
        except Exception:  # 説明を作る途中の失敗で、元のエラー表示を邪魔しない
            hint = name_error_hint(value)
        print(f"→ {hint}")

    shell.set_custom_exc((NameError,), handler)


def _shell_namespace() -> tuple[dict | None, list[str] | None]:
    """いま動いている IPython の変数と、ノートブックのコードセル（どちらも分からなければ None）。"""
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        return None, None
    if shell is None:
        return None, None
    return shell.user_ns, notebook_sources(shell.user_ns)


def error_hint(error: BaseException) -> str:
    """部品が呼んだ関数のエラーに添える一文（NameError のときだけ。ほかは空）。"""
    if not isinstance(error, NameError):
        return ""
    try:
        return name_error_hint(error, *_shell_namespace())
    except Exception:  # noqa: BLE001 説明を作る途中の失敗で、元のエラー表示を邪魔しない
        return name_error_hint(error)


def print_hint(error: BaseException) -> None:
    """部品の出力欄に、関数のエラーの直し方を「→ 」の 1 行で出す（NameError のときだけ）。"""
    hint = error_hint(error)
    if hint:
        print(f"→ {hint}")


def missing_globals(function: Callable, depth: int = 3) -> list[str]:
    """function が読む大域変数のうち、いまどこにも定義されていない名前（読む順）。

    ノートブックで def した関数なら、その関数が呼ぶ、同じノートブックの関数の中も depth 段まで見る
    （classify_photo → top_k → loaded のように）。def でない呼び出せるもの（モデルなど）は調べない。
    """
    missing: list[str] = []
    seen: set[int] = set()

    def visit(func: Callable, level: int) -> None:
        code, space = getattr(func, "__code__", None), getattr(func, "__globals__", None)
        if code is None or not isinstance(space, dict) or id(func) in seen or level > depth:
            return
        seen.add(id(func))
        names = _global_loads(code)
        missing.extend(n for n in names if n not in space and not hasattr(builtins, n) and n not in missing)
        for name in names:  # 自分の足りない名前を先に、呼ぶ関数の中の名前を後に並べる
            value = space.get(name)
            if inspect.isfunction(value) and value.__module__ == func.__module__:
                visit(value, level + 1)

    visit(function, 0)
    return missing


def _global_loads(code) -> list[str]:
    """コードオブジェクト（中の lambda・内包表記・入れ子の関数も）が LOAD_GLOBAL で読む名前。"""
    names = [ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")]
    for const in code.co_consts:
        if inspect.iscode(const):
            names += _global_loads(const)
    return list(dict.fromkeys(names))


def not_ready_note(functions: dict[str, Callable]) -> str:
    """部品に渡された関数が、まだ定義されていない名前を使っていれば、上のセルの実行を促す一文（なければ空）。

    functions: {「予測の関数 predict」のような呼び名: 関数}。部品は作ったときにこれを表示する
    （モデルを作るセルを飛ばして部品のセルを実行した、という順番の誤りに、使う前に気づけるように）。
    """
    notes = []
    for what, function in functions.items():
        names = missing_globals(function)
        if names:
            listed = "、".join(f"「{n}」" for n in names[:4])
            space = " " if what[-1:].isascii() else ""
            notes.append(f"{what}{space}が使う{listed}は、まだ定義されていません。")
    if not notes:
        return ""
    return ("".join(notes) + "このままでは部品を使ったときにエラーになります。" + RUN_ABOVE
            + "そのあとで、この部品のセルも実行し直してください。")
