"""講座のサイトの検査（ブラウザで開く検査は test_site_browser.py）。

- 実行ずみの写し（docs/executed/）: レッスンごとにあり、通常モードでうまく実行したもので、
  コードセルが今のノートブックと同じ（古いコードの出力をページに載せない）。
- リポジトリの場所: pyproject.toml を元に、Colab のバッジ・準備のセル・README・サイトの設定がすべて同じ。
  scripts/set_repository.py が、そのすべてを書き換える。
- サイトの道具: README の「サイトを作る」の 1 行、GitHub Pages の workflow、手元の写しを読む設定。
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import set_repository  # noqa: E402
import site_pages  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
OWNER_NAME = REPOSITORY.removeprefix("https://github.com/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_lesson_has_a_fresh_full_mode_executed_copy(path):
    """ページの出力は、今のコードを通常モードで実行したもの。コードを変えたら写しを作り直す。"""
    stored = site_pages.EXECUTED / path.name
    assert stored.exists(), f"{stored.relative_to(ROOT)} がありません（scripts/benchmark.py {path.stem[:2]} --store）"
    stale = site_pages.stale_cells(path, stored)
    assert not stale, (f"{path.name}: 写しのコードセル {stale[:5]} が今のノートブックと違います。"
                       f"scripts/benchmark.py {path.stem[:2]} --store で実行し直してください")
    run = nbformat.read(stored, as_version=4).metadata[site_pages.RUN_KEY]
    assert run["mode"] == "full" and run["status"] == "ok" and run["seed"] == 0
    assert run["device"] and run["date"] and run["commit"] and run["wall_s"] > 0
    outputs = [o for c in nbformat.read(stored, as_version=4).cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], f"{path.name}: エラーの出力があります"


def test_stale_cells_finds_changed_added_and_removed_code(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 題"),
                                         nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_code_cell("b = 2")])
    source, executed = tmp_path / "s.ipynb", tmp_path / "e.ipynb"
    nbformat.write(nb, source)
    nbformat.write(nb, executed)
    assert site_pages.stale_cells(source, executed) == []
    nb.cells[0].source = "# 題を直した"  # 文だけの違いは古くない（ページの文は今のノートブックから取る）
    nbformat.write(nb, source)
    assert site_pages.stale_cells(source, executed) == []
    nb.cells[2].source = "b = 3"
    nbformat.write(nb, source)
    assert site_pages.stale_cells(source, executed) == [2]
    nb.cells.append(nbformat.v4.new_code_cell("c = 4"))
    nbformat.write(nb, source)
    assert site_pages.stale_cells(source, executed) == [2, 3]
    with pytest.raises(ValueError, match="古くなっています"):
        site_pages.compose(source, executed)


def test_compose_takes_prose_from_the_notebook_and_outputs_from_the_run(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 題"),
                                         nbformat.v4.new_code_cell("print(1)"),
                                         nbformat.v4.new_code_cell("pad")])
    source, executed = tmp_path / "s.ipynb", tmp_path / "e.ipynb"
    nbformat.write(nb, source)
    ran = nbformat.from_dict(json.loads(json.dumps(nb)))
    ran.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    ran.cells[2].outputs = [nbformat.v4.new_output("display_data", data={
        site_pages.WIDGET_VIEW: {"model_id": "x", "version_major": 2, "version_minor": 0}, "text/plain": "pad"})]
    ran.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "x": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_y"]}},
        "y": {"model_name": "ButtonModel", "state": {}}}}}
    ran.metadata[site_pages.RUN_KEY] = {"device": "テスト CPU", "device_kind": "cpu", "date": "2026-12-06T10:00:00",
                                        "commit": "abc1234", "mode": "full", "wall_s": 75.0, "torch": "2.x"}
    nbformat.write(ran, executed)
    nb.cells[0].source = "# 題（直した）"
    nbformat.write(nb, source)
    page = site_pages.compose(source, executed)
    assert page.cells[0].source == "# 題（直した）"
    assert "2026-12-06 に、CPU（テスト CPU" in page.cells[1].source and "`abc1234`" in page.cells[1].source
    assert "通常モード" in page.cells[1].source and "1.2 分" in page.cells[1].source
    assert page.cells[2].outputs[0]["text"] == "1\n"
    assert site_pages.WIDGET_NOTE in page.cells[3].outputs[0]["data"]["text/html"]  # 部品より先に読む
    assert site_pages.WIDGET_VIEW in page.cells[3].outputs[1]["data"]


def test_only_widgets_a_learner_operates_get_the_note():
    state = {"bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_p", "IPY_MODEL_t"]}},
             "p": {"model_name": "FloatProgressModel", "state": {"style": "IPY_MODEL_s"}},
             "t": {"model_name": "HTMLModel", "state": {}}, "s": {"model_name": "ProgressStyleModel", "state": {}},
             "pad": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_bar", "IPY_MODEL_canvas"]}},
             "canvas": {"model_name": "AnyModel", "state": {}}}
    assert not site_pages.interactive("bar", state)  # 学習の進み具合のバー
    assert site_pages.interactive("pad", state)  # 描く枠（anywidget）を含む
    assert not site_pages.interactive("missing", state)


def test_compress_png_keeps_the_picture_and_never_grows(tmp_path):
    import base64
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([0, 1, 2], [0, 1, 0], label="損失")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    original = base64.b64encode(buffer.getvalue()).decode()
    smaller = site_pages.compress_png(original)
    assert len(smaller) < len(original)
    a = Image.open(io.BytesIO(base64.b64decode(original))).convert("RGB")
    b = Image.open(io.BytesIO(base64.b64decode(smaller))).convert("RGB")
    assert a.size == b.size
    diff = max(abs(x - y) for pa, pb in zip(a.getdata(), b.getdata()) for x, y in zip(pa, pb))
    assert diff <= 48  # 色を減らしても、線と文字の見た目はほとんど変わらない
    noise = Image.effect_noise((64, 64), 100).convert("RGB")  # 色の多い写真は小さくならない → 元のまま
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    photo = base64.b64encode(buffer.getvalue()).decode()
    assert len(site_pages.compress_png(photo)) <= len(photo)


# ---- リポジトリの場所 ----

COLAB = re.compile(r"colab\.research\.google\.com/github/([^/\s\"')]+/[^/\s\"')]+)/blob/main/notebooks/")


def _setup_url(path: Path) -> str:
    setup = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source
    return re.search(r'"https://github\.com/([^"]+)"', setup).group(1)


def test_every_copy_of_the_repository_address_agrees():
    places = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *NOTEBOOKS,
                 *sorted(site_pages.EXECUTED.glob("*.ipynb"))]:
        for found in COLAB.findall(path.read_text(encoding="utf-8")):
            places.setdefault(found, []).append(path.relative_to(ROOT))
    for path in [*NOTEBOOKS, *sorted(site_pages.EXECUTED.glob("*.ipynb"))]:
        places.setdefault(_setup_url(path), []).append(path.relative_to(ROOT))
    for found in re.findall(r"https://([\w-]+)\.github\.io/([\w.-]+)", (ROOT / "README.md").read_text()):
        places.setdefault("/".join(found), []).append("README.md（サイトの URL）")
    assert set(places) == {OWNER_NAME} or set(places) == {OWNER_NAME, OWNER_NAME.lower()}, places
    assert len(places[OWNER_NAME]) >= 2 * len(NOTEBOOKS)
    assert "REPOSITORY" in (ROOT / "docs" / "conf.py").read_text()  # サイトの設定は pyproject.toml から読む


def test_set_repository_rewrites_every_copy_and_keeps_pages_fresh(tmp_path):
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ["notebooks", "docs", ".github"]:
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("_static", "_extra"))
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "set_repository.py"), "my-lab/ai-course",
                           "--root", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "→ my-lab/ai-course" in done.stdout
    for path in set_repository.copies(tmp_path):
        text = path.read_text(encoding="utf-8")
        assert f"github.com/{OWNER_NAME}" not in text and f"{OWNER_NAME.split('/')[0]}.github.io" not in text, path
    assert 'Repository = "https://github.com/my-lab/ai-course"' in (tmp_path / "pyproject.toml").read_text()
    readme = (tmp_path / "README.md").read_text()
    assert "colab.research.google.com/github/my-lab/ai-course/blob/main/notebooks/00_setup.ipynb" in readme
    assert "https://my-lab.github.io/ai-course/" in readme
    for path in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        assert _setup_url(path) == "my-lab/ai-course"
        assert site_pages.stale_cells(path, tmp_path / "docs" / "executed" / path.name) == []  # 写しも同じに直る
    assert "/content/dl-course-ja" in (tmp_path / "notebooks" / "00_setup.ipynb").read_text()  # Colab のフォルダ名は変えない
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "set_repository.py"), "not a name",
                          "--root", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "OWNER/NAME の形ではありません" in bad.stderr


# ---- サイトの道具 ----

def test_readme_has_the_one_site_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- site-command -->\n```bash\n(.+?)\n```\n<!-- /site-command -->", readme, re.S)
    assert block and block.group(1) == ".venv/bin/python scripts/build_site.py"


def test_pages_workflow_builds_the_site_with_the_same_script():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    assert any(s.get("run") == "python scripts/build_site.py" for s in steps)
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact") and s["with"]["path"] == "build/site"
               for s in steps)
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in workflow["jobs"]["deploy"]["steps"])


def test_site_requirements_match_the_test_extra():
    wanted = [line.strip() for line in (ROOT / "docs" / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    everything = project["dependencies"] + project["optional-dependencies"]["test"]
    assert [w for w in wanted if w not in everything] == []


def test_the_site_reads_local_copies_not_cdns():
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert "https://" not in conf.replace(REPOSITORY, "").replace("https://colab.research.google.com", "")
    vendor = ROOT / "docs" / "_static" / "vendor"
    for path in ["mathjax/tex-mml-chtml.js", "require.js", "html-manager/embed-amd.js", "npm/anywidget/index.js",
                 "mathjax/LICENSE", "npm/anywidget/LICENSE", "html-manager/embed.js.LICENSE.txt", "README.md"]:
        assert (vendor / path).is_file(), path


def test_store_quantises_figures_keeps_the_run_record_and_refuses_an_unrecorded_run(tmp_path):
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (250, 250, 250)).save(buffer, "PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png})])])
    ran = tmp_path / "04_cnn.ipynb"
    nbformat.write(nb, ran)
    with pytest.raises(ValueError, match="実行の記録"):
        site_pages.store(ran, tmp_path / "site")
    nb.metadata[site_pages.RUN_KEY] = {"mode": "full", "seed": 0}
    nbformat.write(nb, ran)
    stored = site_pages.store(ran, tmp_path / "site")
    again = nbformat.read(stored, as_version=4)
    assert again.metadata[site_pages.RUN_KEY] == {"mode": "full", "seed": 0}
    assert again.cells[0].outputs[0]["data"]["image/png"] == site_pages.compress_png(png)
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["04_cnn.ipynb"]  # 一時ファイルは残らない
