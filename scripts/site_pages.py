"""サイトの各レッスンのページを、実行ずみの写し（docs/executed/）から作る。

- store: benchmark.py が実行したノートブックを、図を小さくして docs/executed/ に置く（実行の記録つき）。
- stale_cells: 写しのコードセルが、今のノートブック（notebooks/）と違うセルの一覧（空なら新しい）。
- compose: 今のノートブックの説明の文に、写しの出力を合わせたページを作る。先頭に実行の記録を、
  部品（ウィジェット）の出力の下に「動くのは Colab か JupyterLab だけ」の一文を添える。

説明の文（Markdown のセル）はいつも今のノートブックのものを使うので、文を直してもノートブックを
実行し直す必要はない。コードが 1 文字でも変われば、そのページは作らない（古い出力を出さない）。
"""

from __future__ import annotations

import base64
import functools
import io
import sys
from pathlib import Path

import nbformat
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # サイトだけを作る環境（講座を pip で入れていない）でも course_utils.env を読む
from course_utils.env import replace_file  # noqa: E402  （標準ライブラリだけを使う、いちばん下の部品）
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "docs" / "executed"
RUN_KEY = "course_run"  # 写しのメタデータで、実行の記録を入れる場所
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("この部品は、Colab か JupyterLab でノートブックを開き、セルを実行したときだけ動きます"
               "（このページでは、実行したときの見た目だけを表示しています）。")
MODE_TEXT = {"full": "通常モード（本物の MNIST と、レッスンどおりの学習）",
             "quick": "クイックモード（小さなデータ。数値に意味はありません）"}


@functools.cache
def repository_url() -> str:
    """リポジトリの URL（pyproject.toml の [project.urls] Repository。講座の中の唯一の元）。"""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]["Repository"]


def compress_png(data: str) -> str:
    """base64 の PNG を、256 色に減らして小さくできれば、その base64 を返す（大きくなるなら元のまま）。

    グラフの PNG は使う色が少ないので、見た目をほとんど変えずに半分ほどになる。
    """
    raw = base64.b64decode(data)
    image = Image.open(io.BytesIO(raw))
    if image.mode not in ("RGB", "RGBA"):
        return data
    quantized = image.quantize(256, method=Image.Quantize.FASTOCTREE if image.mode == "RGBA"
                               else Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    quantized.save(buffer, "PNG", optimize=True)
    smaller = buffer.getvalue()
    return base64.b64encode(smaller).decode() + "\n" if len(smaller) < len(raw) else data


def store(executed: Path, folder: Path = EXECUTED) -> Path:
    """実行ずみのノートブック（メタデータに実行の記録があるもの）を、図を小さくして folder に置く。

    書き込みは env.replace_file（一時ファイルから置き換える）なので、途中で止まっても前の写しが残る。
    """
    nb = nbformat.read(executed, as_version=4)
    if RUN_KEY not in nb.metadata:
        raise ValueError(f"{executed} に実行の記録（{RUN_KEY}）がありません。scripts/benchmark.py で実行したものを渡してください。")
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                output["data"]["image/png"] = compress_png(output["data"]["image/png"])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / executed.name
    replace_file(target, nbformat.writes(nb) + "\n")
    return target


# 見せるだけの部品（進み具合のバー、文字、画像、入れ物、見た目の設定）。これ以外を含む部品は操作するもの
STATIC_MODELS = {"HBoxModel", "VBoxModel", "BoxModel", "GridBoxModel", "FloatProgressModel", "IntProgressModel",
                 "HTMLModel", "HTMLMathModel", "LabelModel", "ImageModel", "OutputModel", "LayoutModel"}


def interactive(model_id: str, state: dict, seen: set | None = None) -> bool:
    """保存された部品 model_id（とその子）に、操作する部品（ボタン、スライダー、描く枠など）があるか。"""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return False
    seen.add(model_id)
    model = state[model_id]
    name = model.get("model_name", "")
    if name not in STATIC_MODELS and not name.endswith("StyleModel"):
        return True
    children = model.get("state", {}).get("children", [])
    return any(interactive(str(child).removeprefix("IPY_MODEL_"), state, seen) for child in children)


def _code(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def stale_cells(source: Path, executed: Path) -> list[int]:
    """写しのコードセルが今のノートブックと違う、コードセルの番号（1 から）。数が違えば差のある先から全部。"""
    return _stale(nbformat.read(source, as_version=4), nbformat.read(executed, as_version=4))


def _stale(now_nb, then_nb) -> list[int]:
    now, then = _code(now_nb), _code(then_nb)
    differ = [k + 1 for k, (a, b) in enumerate(zip(now, then)) if a != b]
    if len(now) != len(then):
        differ += list(range(min(len(now), len(then)) + 1, max(len(now), len(then)) + 1))
    return differ


RANDOM_WEIGHTS = "ランダムな重み"  # 07 が、学習済みの重みを読めなかったモデルの記録の名前に付ける印


def caveats(metrics: dict) -> list[str]:
    """記録された数値から、ページを読む人が知るべき実行の制限（07 で学習済みの重みを読めなかったモデルなど）。"""
    random = [m["label"].split(" の ")[0] for m in metrics.values() if RANDOM_WEIGHTS in m.get("label", "")]
    if not random:
        return []
    return [f"この実行では、{'・'.join(random)} の学習済みの重みを読めなかったので、それらのモデルはランダムな重みで"
            "動いています（理由はページの中の、重みを読み込むセルの出力にあります）。予測に意味があるのは、学習済みの重みで"
            "動いたモデルだけです。"]


def run_note(run: dict) -> str:
    """ページの先頭に置く、実行の記録の一文（Markdown）。"""
    device = run.get("device", "?")
    kind = "GPU" if run.get("device_kind") == "gpu" else "CPU"
    minutes = run.get("wall_s", 0) / 60
    took = f"{minutes:.1f} 分" if minutes >= 1 else f"{run.get('wall_s', 0):.0f} 秒"
    commit = run.get("commit", "?")
    return (f"> **このページの出力について** — {run.get('date', '?')[:10]} に、{kind}（{device}、"
            f"PyTorch {run.get('torch', '?')}）で、コミット `{commit}` のノートブックを"
            f"{MODE_TEXT.get(run.get('mode'), run.get('mode', '?'))}で上から順に実行した結果です"
            f"（全セルで {took}）。同じ計算でも、マシンやシードが違えば数値は少し変わります。"
            "自分で実行するには、上の Colab のボタンか、手元の JupyterLab でノートブックを開いてください。"
            + "".join(f"\n>\n> **注意**: {text}" for text in run.get("caveats", [])))


def compose(source: Path, executed: Path) -> nbformat.NotebookNode:
    """今のノートブックの全セルに、写しの出力と実行の記録を合わせたページ用のノートブック。

    コードが違えば ValueError（古い出力のページは作らない）。
    """
    page = nbformat.read(source, as_version=4)
    stored = nbformat.read(executed, as_version=4)
    stale = _stale(page, stored)
    if stale:
        raise ValueError(f"{executed.name} の写しは古くなっています（コードセル {stale[:5]} が今のノートブックと違います）。"
                         f"scripts/benchmark.py {source.stem[:2]} --store で実行し直してください。")
    state = stored.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    ran = iter(cell for cell in stored.cells if cell.cell_type == "code")
    for cell in page.cells:
        if cell.cell_type != "code":
            continue
        old = next(ran)
        cell.outputs = old.get("outputs", [])  # 写しは読んだばかりで、ほかに使わない
        cell.execution_count = old.get("execution_count")
        views = [k for k, out in enumerate(cell.outputs) if WIDGET_VIEW in out.get("data", {})]
        if any(interactive(cell.outputs[k]["data"][WIDGET_VIEW].get("model_id", ""), state) for k in views):
            # 進み具合のバーだけなら、注はいらない。注は部品より先に読めるように置く
            cell.outputs.insert(views[0], nbformat.v4.new_output(
                "display_data", data={"text/html": f"<p class='widget-note'>ⓘ {WIDGET_NOTE}</p>",
                                      "text/plain": WIDGET_NOTE}))
    run = stored.metadata.get(RUN_KEY, {})
    title = next(k for k, cell in enumerate(page.cells) if cell.cell_type == "markdown")
    page.cells.insert(title + 1, nbformat.v4.new_markdown_cell(run_note(run)))
    if "widgets" in stored.metadata:  # 部品の状態（ページで見た目を描くのに使う）
        page.metadata["widgets"] = stored.metadata["widgets"]
    page.metadata[RUN_KEY] = run
    return page
