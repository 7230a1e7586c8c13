"""配布まわりの検査: 依存関係の一致、README の 2 つのコマンド、CI がそれを使うこと。"""

import re
import sys

import yaml

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
README = (ROOT / "README.md").read_text()


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(d.startswith("python=") for d in conda) and "pip" in conda
    project = PYPROJECT["project"]
    expected = project["dependencies"] + project["optional-dependencies"]["test"]
    assert [d for d in pip if d != "-e ."] == expected
    assert "-e ." in pip


def test_python_version_range():
    assert PYPROJECT["project"]["requires-python"] == ">=3.10"
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    version = next(d for d in env["dependencies"] if str(d).startswith("python="))
    assert tuple(map(int, version.split("=")[1].split("."))) >= (3, 10)


def _command(marker):
    block = re.search(rf"<!-- {marker} -->\n```bash\n(.+?)\n```\n<!-- /{marker} -->",
                      README, re.S)
    assert block, f"README.md に {marker} がありません"
    return block.group(1)


def test_readme_has_exactly_two_one_line_commands():
    open_command, test_command = _command("open-command"), _command("test-command")
    assert "\n" not in open_command and "\n" not in test_command
    assert "pip install -e ." in open_command and "jupyter lab" in open_command
    assert 'pip install -e ".[test]"' in test_command and "pytest" in test_command


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and 'bash -c "$command"' in ci


def test_readme_lists_every_notebook_with_a_colab_badge():
    repo = PYPROJECT["project"]["urls"]["Repository"].removeprefix("https://github.com/")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"](notebooks/{path.name})" in README
        assert f"colab.research.google.com/github/{repo}/blob/main/notebooks/{path.name}" in README
