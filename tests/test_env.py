"""course_utils.env（環境変数の旗とフォルダ）と、講座全体に効く約束のテスト。

- import の矢印が一方向であること（循環がないこと、env は講座の何も import しないこと）
- 旗の値（COURSE_QUICK・COURSE_OFFLINE）の読み方と、分からない値の日本語の警告
- クイックモードとオフラインでは、一度もネットワークにつながないこと
- どの失敗のときも、利用者のファイル（データとキャッシュのフォルダ）を消したり書き換えたりしないこと

権限のテストは、root では chmod が効かないので、そのときは os の呼び出しを差し替えて
PermissionError を起こす（deny フィクスチャ。ほかのテストファイルからも import して使う）。
"""

from __future__ import annotations

import ast
import builtins
import errno
import gzip
import hashlib
import http.client
import io
import os
import stat
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from course_utils import env

PACKAGE = ROOT / "course_utils"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _chmod_is_ignored() -> bool:
    """chmod 000 のファイルを読めてしまうか（root。ただし CAP_DAC_OVERRIDE を外した root は読めない）。"""
    if not AS_ROOT:
        return False
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_text("x")
        probe.chmod(0)
        try:
            probe.read_text()
        except PermissionError:
            return False
        finally:
            probe.chmod(0o600)
    return True


SIMULATE = _chmod_is_ignored()  # True なら、権限の失敗を os の差し替えで起こす


# --- 権限のない状態を作る道具 --------------------------------------------------------------------

class Denier:
    """deny(path, kind) で権限のない状態を作る。kind は

    - "enter": フォルダ path の中に入れない（chmod 000）
    - "write": フォルダ path の中に作れない・消せない（chmod 555、読み取り専用のフォルダ）
    - "read" : ファイル path を読めない（chmod 000）

    root は chmod を無視するので、root のときは os・open の呼び出しを差し替えて、カーネルと同じ
    PermissionError（EACCES）を出す。release() で元に戻す（ファイルの中身には触らない）。
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.rules: list[tuple[str, str]] = []
        self.modes: list[tuple[Path, int]] = []
        self.patched = False

    def __call__(self, path: Path, kind: str) -> None:
        assert kind in {"enter", "write", "read"}
        path = Path(path)
        if SIMULATE:
            self._patch()
            self.rules.append((os.path.abspath(path), kind))
        else:
            self.modes.append((path, path.stat().st_mode & 0o777))
            path.chmod({"enter": 0o000, "write": 0o555, "read": 0o000}[kind])

    def release(self) -> None:
        self.rules.clear()
        for path, mode in reversed(self.modes):
            path.chmod(mode)
        self.modes.clear()

    # chmod が効かない（root の）ときだけ使う差し替え
    def _denied(self, path, op: str) -> bool:
        if isinstance(path, int) or path is None:
            return False
        p = os.path.abspath(os.fsdecode(path))
        for target, kind in self.rules:
            inside = p.startswith(target + os.sep)
            if kind == "enter" and (inside or (p == target and op == "list")):
                return True
            if kind == "write" and op in {"create", "remove"} and os.path.dirname(p) == target:
                return True
            if kind == "read" and op == "read" and p == target:
                return True
        return False

    def _check(self, path, op: str) -> None:
        if self._denied(path, op) or (op != "stat" and self._denied(path, "stat")):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))

    def _patch(self) -> None:
        if self.patched:
            return
        self.patched = True
        mp, check = self.monkeypatch, self._check
        real = {name: getattr(os, name) for name in
                ("stat", "lstat", "listdir", "scandir", "mkdir", "open", "replace", "rename",
                 "unlink", "remove", "statvfs", "access")}
        real_open = builtins.open

        def wrap(name, op):
            def wrapper(path=".", *args, **kwargs):
                check(path, op)
                return real[name](path, *args, **kwargs)
            return wrapper

        for name, op in [("stat", "stat"), ("lstat", "stat"), ("listdir", "list"),
                         ("scandir", "list"), ("mkdir", "create"), ("unlink", "remove"),
                         ("remove", "remove"), ("statvfs", "stat")]:
            mp.setattr(os, name, wrap(name, op))

        def os_open(path, flags, *args, **kwargs):
            writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            check(path, "create" if flags & os.O_CREAT else "write" if writes else "read")
            return real["open"](path, flags, *args, **kwargs)

        def file_open(file, mode="r", *args, **kwargs):
            if not isinstance(file, int):
                creating = any(c in mode for c in "wax+") and not os.path.exists(file)
                check(file, "create" if creating else "read" if "r" in mode else "write")
            return real_open(file, mode, *args, **kwargs)

        def move(name):
            def wrapper(src, dst, *args, **kwargs):
                check(src, "remove")
                check(dst, "create")
                return real[name](src, dst, *args, **kwargs)
            return wrapper

        def access(path, mode, *args, **kwargs):
            if self._denied(path, "stat"):
                return False
            if mode & os.W_OK and (self._denied(os.path.join(os.fsdecode(path), "x"), "create")):
                return False
            if mode & os.R_OK and self._denied(path, "read"):
                return False
            return real["access"](path, mode, *args, **kwargs)

        mp.setattr(os, "open", os_open)
        mp.setattr(os, "replace", move("replace"))
        mp.setattr(os, "rename", move("rename"))
        mp.setattr(os, "access", access)
        mp.setattr(builtins, "open", file_open)
        mp.setattr(io, "open", file_open)


@pytest.fixture
def deny(monkeypatch):
    """権限のない状態を作る（Denier）。テストの終わりに元に戻す。"""
    denier = Denier(monkeypatch)
    yield denier
    denier.release()


@pytest.fixture(autouse=True)
def fresh_warnings():
    """同じ値の警告は 1 回だけ出す仕組みを、テストごとに忘れさせる。"""
    env._warned.clear()
    yield
    env._warned.clear()


def test_deny_really_denies(tmp_path, deny):
    """道具そのものの確認: root でも一般の利用者でも、同じ PermissionError になる。"""
    locked, readonly, secret = tmp_path / "locked", tmp_path / "ro", tmp_path / "secret.txt"
    locked.mkdir()
    (locked / "inner").write_text("x")
    readonly.mkdir()
    secret.write_text("x")
    deny(locked, "enter")
    deny(readonly, "write")
    deny(secret, "read")
    with pytest.raises(PermissionError):
        (locked / "inner").stat()
    with pytest.raises(PermissionError):
        os.listdir(locked)
    with pytest.raises(PermissionError):
        (readonly / "new").mkdir()
    with pytest.raises(PermissionError):
        (readonly / "new.txt").write_text("x")
    with pytest.raises(PermissionError):
        secret.read_bytes()
    assert not os.access(readonly, os.W_OK)
    deny.release()
    assert (locked / "inner").read_text() == "x" and secret.read_text() == "x"


# --- import の矢印 -----------------------------------------------------------------------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """course_utils のモジュール → そのモジュールが import する course_utils のモジュール（関数の中の import も）。"""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:  # from パッケージ import モジュール
                    full = f"{module}.{alias.name}"
                    targets.add(full if _is_module(full) else module)
        # 講座の外と、自分を含むパッケージ（__init__ は子より先に必ず読まれる）は矢印に数えない
        graph[name] = {t for t in targets
                       if t.split(".")[0] == "course_utils" and _is_module(t)
                       and not name.startswith(t + ".") and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_the_old_circle():
    old = {"course_utils.setup": {"course_utils.preflight"},
           "course_utils.preflight": {"course_utils.setup", "course_utils.mnist_files"},
           "course_utils.mnist_files": {"course_utils.setup"}}
    assert find_cycle(old) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_course_utils_imports_point_one_way():
    graph = import_graph()
    assert {"course_utils.env", "course_utils.setup", "course_utils.preflight",
            "course_utils.mnist_files"} <= graph.keys()
    cycle = find_cycle(graph)
    assert cycle is None, "import が循環しています: " + " → ".join(cycle)
    assert graph["course_utils.env"] == set()  # いちばん下: 講座の何も import しない
    assert graph["course_utils.time_limit"] == set()  # 時間の上限も、いちばん下の層
    # 旗と場所は env から読む。下の層は上の層を読まない
    assert graph["course_utils.mnist_files"] == {"course_utils.env"}
    assert graph["course_utils.preflight"] == {"course_utils.env", "course_utils.mnist_files"}
    assert "course_utils.setup" not in graph["course_utils.pretrained"]


def test_env_imports_no_heavy_library():
    code = ("import sys, course_utils.env; "
            "print(sorted(m for m in ('torch', 'numpy', 'matplotlib', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_module_imports_on_its_own():
    """どのモジュールを最初に import しても動く（循環があると、読む順で ImportError になる）。"""
    names = sorted(import_graph())
    code = textwrap.dedent(f"""
        import importlib, sys
        failed = []
        for name in {names!r}:
            for loaded in [m for m in sys.modules if m.split(".")[0] == "course_utils"]:
                del sys.modules[loaded]
            try:
                importlib.import_module(name)
            except Exception as error:
                failed.append(f"{{name}}: {{type(error).__name__}}: {{error}}")
        print("\\n".join(failed) or "OK")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, MPLBACKEND="Agg"))
    assert out.stdout.strip().endswith("OK"), out.stdout + out.stderr


def test_old_import_places_still_work():
    from course_utils.mnist_files import (CACHE_ENV, DATA_ENV, OFFLINE_ENV, cache_dir,  # noqa: F401
                                          is_offline, mnist_root, read_idx)
    from course_utils.setup import (QUICK_ENV, by_mode, env_flag, in_colab, is_quick,  # noqa: F401
                                    japanese_font_path, setup_notebook)
    assert cache_dir is env.cache_dir and is_quick is env.is_quick and in_colab is env.in_colab


# --- 旗 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", " 1 ", "１", "ｙｅｓ", "yes", "y", "on",
                                   "ON", "1.0", '"1"', "＂1＂", "\t1\n"])
def test_values_that_mean_on(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 分かる値では警告しない
        assert env.is_quick()


@pytest.mark.parametrize("value", ["", " ", "0", "０", "false", "False", "no", "n", "off", "OFF",
                                   "0.0", " 0 "])
def test_values_that_mean_off(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not env.is_quick()


def test_unset_flags_are_off(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    assert not env.is_quick() and not env.is_offline()


@pytest.mark.parametrize("value", ["2", "enable", "-1", "nan", "はい", "1 0"])
def test_unknown_quick_value_is_named_in_a_japanese_warning(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    with pytest.warns(env.CourseSettingWarning) as record:
        assert env.is_quick()  # 設定した人はたいていオンのつもり（理由は env.py）
    message = str(record[0].message)
    assert f"環境変数 COURSE_QUICK の値「{value}」は分かりません" in message
    assert "オン（クイックモード）として扱います" in message
    assert "COURSE_QUICK=0" in message and "COURSE_QUICK=1" in message


def test_unknown_offline_value_is_treated_as_offline(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "2")
    with pytest.warns(env.CourseSettingWarning,
                      match="COURSE_OFFLINE の値「2」は分かりません。安全のため、オン（オフライン"):
        assert env.is_offline()


def test_unknown_value_warns_once(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "2")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(5):
            env.is_quick()
    assert len(record) == 1
    monkeypatch.setenv("COURSE_QUICK", "3")  # 値が変われば、また言う
    with pytest.warns(env.CourseSettingWarning, match="「3」"):
        env.is_quick()


def test_flag_text_shows_what_was_set(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", " 2 ")
    assert env.flag_text("COURSE_OFFLINE") == "COURSE_OFFLINE=2"
    monkeypatch.delenv("COURSE_OFFLINE")
    assert env.flag_text("COURSE_OFFLINE") == "COURSE_OFFLINE が未設定"
    assert env.unknown_flags() == {}


# --- フォルダ -----------------------------------------------------------------------------------

def test_cache_dir_strips_quotes_and_spaces(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", f' "{tmp_path}" ')
    assert env.cache_dir() == tmp_path
    monkeypatch.setenv("COURSE_CACHE_DIR", "   ")
    assert env.cache_dir() == Path.home() / ".cache" / "dl-course-ja"


def test_cache_dir_without_a_home_folder(monkeypatch):
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(
        RuntimeError("Could not determine home directory"))))
    assert env.cache_dir().name == "dl-course-ja"


def test_data_dir_setting_and_relative_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", "  ")
    assert env.data_dir() is None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", "course_utils")  # 今のフォルダに無ければリポジトリの一番上から
    assert env.data_dir() == PACKAGE


def test_folder_problem_names_what_is_wrong(tmp_path, deny):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert env.folder_problem(tmp_path / "new" / "cache") is None
    assert "はファイルです" in env.folder_problem(afile / "cache")
    locked = tmp_path / "locked"
    locked.mkdir()
    readonly = tmp_path / "ro"
    readonly.mkdir()
    deny(locked, "enter")
    deny(readonly, "write")
    assert "権限がありません" in env.folder_problem(locked / "cache", write=False)
    assert "書き込む権限がありません" in env.folder_problem(readonly / "cache")
    assert env.folder_problem(readonly / "cache", write=False) is None  # 読むだけなら使える


@pytest.mark.parametrize("error, words", [
    (PermissionError(errno.EACCES, "Permission denied"), "権限がありません"),
    (OSError(errno.ENOSPC, "No space left on device"), "ディスクの空きが足りません"),
    (OSError(errno.EROFS, "Read-only file system"), "読み取り専用"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory"), "フォルダではなくファイル"),
])
def test_os_errors_are_told_in_japanese_and_are_local(error, words):
    assert words in env.os_error_reason(error)
    wrapped = RuntimeError("download failed")
    wrapped.__cause__ = error
    assert env.local_os_error(wrapped) is error  # 原因の連鎖の奥でも見つける


def test_network_errors_are_not_local():
    import requests

    assert env.local_os_error(requests.exceptions.ConnectionError("Max retries exceeded")) is None
    assert env.local_os_error(urllib.error.URLError("Name or service not known")) is None
    assert env.local_os_error(ConnectionResetError(errno.ECONNRESET, "reset")) is None


# --- クイックモードとオフラインは通信しない ------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """ネットワークにつなごうとしたら、記録して大きな声で失敗させる（except Exception でも止まらない）。"""
    attempts = []

    def refuse(what):
        def fail(*args, **kwargs):
            attempts.append((what, args[:2]))
            pytest.fail(f"通信しようとした: {what} {args[:2]}")
        return fail

    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    yield attempts
    assert attempts == []


@pytest.mark.parametrize("mode", ["quick", "offline", "offline-unknown-value"])
def test_quick_and_offline_make_zero_network_attempts(mode, monkeypatch, tmp_path, no_network,
                                                      capsys):
    from course_utils import pretrained
    from course_utils.data import load_mnist
    from course_utils.mnist_files import MNISTDataError, mnist_root
    from course_utils.preflight import preflight
    from course_utils.setup import setup_notebook

    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    pretrained.hub_finding.cache_clear()
    if mode == "quick":
        monkeypatch.setenv("COURSE_QUICK", "1")
    else:
        monkeypatch.setenv("COURSE_OFFLINE", "1" if mode == "offline" else "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", env.CourseSettingWarning)
        setup_notebook()
        findings = preflight()
        assert any(f.topic == "ネットワーク" and "調べません" in f.message for f in findings)
        item = pretrained.load_model(pretrained.spec_by_name("ResNet-18"))
        assert not item.pretrained
        if mode == "quick":
            assert len(load_mnist(train=False)) == 1000
        else:
            with pytest.raises(MNISTDataError, match="ダウンロードしません"):
                mnist_root()
            assert "course_utils.prefetch" in item.note
    pretrained.hub_finding.cache_clear()
    capsys.readouterr()


# --- どの失敗のときも、利用者のファイルを消さず、書き換えない ---------------------------------------

def tree_digest(*folders: Path) -> dict[str, str]:
    """フォルダの中のすべてのファイルの (場所 → 中身の SHA-256)。"""
    digest = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def _write_idx(path: Path, magic: int, count: int) -> None:
    header = np.array([magic, count] + ([28, 28] if magic == 2051 else []), dtype=">i4")
    path.write_bytes(header.tobytes() + bytes(count * (784 if magic == 2051 else 1)))


class _Response(io.BytesIO):
    """urlopen の代わりに返す応答（Content-Length を偽ることもできる）。"""

    def __init__(self, data: bytes, length: int | None = None, fail_with=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self.fail_with = fail_with

    def read(self, *args):
        if self.fail_with is not None:
            raise self.fail_with
        return super().read(*args)


def test_error_paths_never_delete_or_change_user_files(tmp_path, monkeypatch, deny, capsys):
    from course_utils import mnist_files, pretrained
    from course_utils.mnist_files import FILES, MNISTDataError, mnist_root, read_idx
    from course_utils.prefetch import prefetch
    from course_utils.preflight import Finding, preflight

    # 利用者のデータのフォルダ: 1 つ途中で切れた MNIST、メモ、gzip のままのファイル
    data = tmp_path / "data"
    raw = data / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, (_, magic, count) in FILES.items():
        _write_idx(raw / name, magic, count)
    (raw / "t10k-images-idx3-ubyte").write_bytes((raw / "t10k-images-idx3-ubyte").read_bytes()[:-50])
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(b"not really gzip")
    (data / "メモ.txt").write_text("自分のメモ")
    # キャッシュ: 利用者が置いたもの、講座が前に作った壊れたファイル、昔の一時ファイルの名前と同じもの
    cache = tmp_path / "cache"
    cached_raw = cache / "data" / "MNIST" / "raw"
    cached_raw.mkdir(parents=True)
    (cache / "自分のファイル.txt").write_text("消さないで")
    (cached_raw / "t10k-labels-idx1-ubyte").write_bytes(b"broken")
    (cached_raw / "train-images-idx3-ubyte.part").write_bytes(b"user-owned part file")
    (cache / "models").mkdir()
    (cache / "models" / "cnn_mnist.pt").write_bytes(b"learner's trained model")
    weights = cache / "timm" / "resnet18.tv_in1k" / "model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\x00" * 100)
    before = tree_digest(data, cache)

    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    pretrained.hub_finding.cache_clear()
    monkeypatch.setattr(pretrained, "hub_finding", lambda: Finding("ok", "モデルのハブ", "届く"))

    # COURSE_DATA_DIR の失敗
    for given in (data, raw, data / "メモ.txt", data / "MNIST"):
        monkeypatch.setenv("COURSE_DATA_DIR", str(given))
        with pytest.raises(MNISTDataError):
            mnist_root()
        preflight(network=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    deny(raw / "train-images-idx3-ubyte", "read")
    with pytest.raises(MNISTDataError, match="権限"):
        read_idx(raw / "train-images-idx3-ubyte")
    with pytest.raises(MNISTDataError):
        mnist_root()
    deny.release()

    # キャッシュへのダウンロードの失敗
    monkeypatch.delenv("COURSE_DATA_DIR")
    served = {}
    for name, (_, magic, count) in FILES.items():
        _write_idx(tmp_path / name, magic, count)
        served[name] = gzip.compress((tmp_path / name).read_bytes(), mtime=0)
        (tmp_path / name).unlink()
    monkeypatch.setattr(mnist_files, "FILES", {name: (hashlib.md5(served[name]).hexdigest(), m, c)
                                               for name, (_, m, c) in FILES.items()})
    monkeypatch.setattr(mnist_files, "MIRRORS", ("http://mirror.invalid/",))

    def serve(url, timeout=None):
        return _Response(served[url.rsplit("/", 1)[1].removesuffix(".gz")])

    failures = {
        "network": lambda url, timeout=None: (_ for _ in ()).throw(urllib.error.URLError("down")),
        "incomplete": lambda url, timeout=None: _Response(
            b"", fail_with=http.client.IncompleteRead(b"abc", 1000)),
        "short": lambda url, timeout=None: _Response(b"abc", length=1000),
    }
    for fake in failures.values():
        monkeypatch.setattr(urllib.request, "urlopen", fake)
        with pytest.raises(MNISTDataError):
            mnist_root()
    monkeypatch.setattr(urllib.request, "urlopen", failures["network"])
    assert not prefetch(models=False)
    monkeypatch.setattr(urllib.request, "urlopen", serve)
    for code in (errno.ENOSPC, errno.EACCES):
        monkeypatch.setattr(mnist_files, "open", _failing_open(code), raising=False)
        with pytest.raises(MNISTDataError):
            mnist_root()
    monkeypatch.delattr(mnist_files, "open")
    deny(cached_raw, "write")
    with pytest.raises(MNISTDataError):
        mnist_root()
    deny.release()
    monkeypatch.setenv("COURSE_OFFLINE", "2")
    with pytest.warns(env.CourseSettingWarning), pytest.raises(MNISTDataError):
        mnist_root()
    monkeypatch.delenv("COURSE_OFFLINE")

    # 重み: 壊れたファイル、保存の失敗（空き容量・権限）、読めないファイル
    assert not pretrained.load_model(pretrained.spec_by_name("ResNet-18")).pretrained
    for code in (errno.ENOSPC, errno.EACCES):
        def full(tag, code=code):
            raise OSError(code, os.strerror(code))
        monkeypatch.setattr(pretrained, "download_weights", full)
        assert pretrained.ensure_weights(pretrained.spec_by_name("ResNet-50"))
    deny(weights, "read")
    assert not pretrained.load_model(pretrained.spec_by_name("ResNet-18")).pretrained
    deny.release()
    deny(cache, "enter")
    preflight(network=False)
    deny.release()
    capsys.readouterr()

    after = tree_digest(data, cache)
    changed = sorted(path for path in before if after.get(path) != before[path])
    assert changed == [], f"利用者のファイルが消えたか変わった: {changed}"
    # 講座がキャッシュに作ってよいのは、この名前のファイルだけ（ここでは失敗ばかりなので、実際には何も増えない）
    allowed = {str(cached_raw / name) for name in FILES}
    allowed |= {str(cache / "timm" / spec.tag / "model.safetensors") for spec in pretrained.MODELS}
    assert set(after) - set(before) <= allowed
    assert not list(cached_raw.glob("*.*.part"))  # 講座の一時ファイルは残らない


def _failing_open(code: int):
    """mnist_files の open の代わり: 一時ファイル（.part）への書き込みを、半分書いたところで失敗させる。"""
    def fake_open(path, mode="r", *args, **kwargs):
        if "x" not in mode:
            return builtins.open(path, mode, *args, **kwargs)
        if code in env.NO_PERMISSION:
            raise PermissionError(code, os.strerror(code), str(path))
        real = builtins.open(path, mode, *args, **kwargs)

        class Full:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                real.close()

            def write(self, data):
                real.write(data[:len(data) // 2])
                real.flush()
                raise OSError(code, os.strerror(code))

        return Full()
    return fake_open


# --- 壊れたインストールと、ファイルを壊さない書き方（issue 29） ---------------------------------------

def test_a_package_whose_lookup_fails_is_reported_not_raised(monkeypatch):
    def broken(name):
        raise ValueError(f"{name}.__spec__ is None")

    monkeypatch.setattr(env.importlib.util, "find_spec", broken)
    assert env.unavailable_packages(("ipywidgets",)) == {"ipywidgets": "ValueError: ipywidgets.__spec__ is None"}


def test_optional_import_returns_none_for_a_broken_install(monkeypatch):
    def broken(name):
        raise AttributeError("module 'traitlets' has no attribute 'Sentinel'")

    monkeypatch.setattr(env.importlib, "import_module", broken)
    assert env.optional_import("anywidget") is None


def test_a_package_without_what_the_course_uses_counts_as_broken(monkeypatch, tmp_path):
    import types

    stand_in = types.ModuleType("anywidget")  # import はできるのに AnyWidget がない（同じ名前の別のもの）
    stand_in.__file__ = str(tmp_path / "anywidget.py")
    monkeypatch.setattr(env.importlib.util, "find_spec", lambda name: object())  # 「入っている」
    monkeypatch.setattr(env.importlib, "import_module", lambda name: stand_in)
    assert env.optional_import("anywidget") is stand_in  # 何も求めなければそのまま
    assert env.optional_import("anywidget", ("AnyWidget",)) is None
    problems = env.unavailable_packages({"anywidget": ("AnyWidget",)})
    assert problems["anywidget"].startswith("AttributeError: anywidget に、講座が使う AnyWidget がありません。")
    assert str(tmp_path / "anywidget.py") in problems["anywidget"]
    assert env.unavailable_packages(("anywidget",)) == {}  # 名前だけなら、属性は確かめない
    stand_in.AnyWidget = object
    assert env.unavailable_packages({"anywidget": ("AnyWidget",)}) == {}


def test_replace_file_writes_a_new_file_and_replaces_an_old_one(tmp_path):
    path = tmp_path / "a.json"
    env.replace_file(path, "一")
    mask = os.umask(0)
    os.umask(mask)
    assert path.read_text(encoding="utf-8") == "一" and (path.stat().st_mode & 0o777) == 0o666 & ~mask
    path.chmod(0o600)
    env.replace_file(path, "二")
    assert path.read_text(encoding="utf-8") == "二" and (path.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_replace_file_that_fails_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, where):
    path = tmp_path / "a.json"
    path.write_text("前の中身", encoding="utf-8")
    before = path.read_bytes()
    real_write = os.write

    def fail(*args):
        if where == "write":  # 半分まで書いてから、ディスクがいっぱい
            real_write(args[0], bytes(args[1][:len(args[1]) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(env.os, where, fail)
    with pytest.raises(OSError):
        env.replace_file(path, "新しい中身" * 1000)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_make_folder_opens_new_folders_to_the_group_only_inside_a_shared_folder(tmp_path):
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir(mode=0o775)
    shared.chmod(0o775)
    (shared / "old").mkdir()
    (shared / "old").chmod(0o700)  # 既にあるフォルダ（利用者のもの）は変えない
    private.mkdir()
    private.chmod(0o755)
    old_mask = os.umask(0o022)
    try:
        env.make_folder(shared / "old" / "a")  # 作り始めた所の親 old はグループで書けない
        env.make_folder(shared / "b" / "c")
        env.make_folder(private / "d")
    finally:
        os.umask(old_mask)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert mode(shared / "old") == 0o700 and mode(shared / "old" / "a") == 0o755
    assert mode(shared / "b") == 0o775 and mode(shared / "b" / "c") == 0o775
    assert mode(private / "d") == 0o755
