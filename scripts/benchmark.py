"""講座のノートブックを通常モード（本物の MNIST）で上から順に実行し、結果を記録する。

- 各ノートブックを Jupyter のカーネルで実行し（nbclient）、実行ずみの写しを build/notebooks/ に置く。
- ノートブックが course_utils.results.record_result で記録した数値と、所要時間を
  benchmarks/results.json にまとめ、README.md の結果の表（マーカーの間）を作り直す。
- DataLoader と FastLoader で MNIST の訓練データを 1 エポック学習する時間も比べる。

使い方（リポジトリの一番上で）:
    .venv/bin/python scripts/benchmark.py        # 全部（MNIST がなければ自動でダウンロード）
    .venv/bin/python scripts/benchmark.py 04 05 --no-loaders                     # 04 と 05 だけ
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from course_utils.data import FastLoader, load_mnist, to_tensors
from course_utils.mnist_files import MNISTDataError, mnist_root
from course_utils.models import CNN
from course_utils.results import RESULTS_ENV, format_value, read_results
from course_utils.setup import QUICK_ENV, SEED_ENV, get_device

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ の隣のモジュール（テストからも読めるように）
import site_pages  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOKS = ROOT / "notebooks"
TABLE_BEGIN, TABLE_END = "<!-- results-table -->", "<!-- /results-table -->"

# 目標（COURSE_GUIDE と issue の値）: 正解率は test_acc、時間は秒。
TARGETS = {
    "00_setup": {"cpu_s": 60, "gpu_s": 60},
    "01_softmax_regression": {"acc": 0.920, "cpu_s": 180, "gpu_s": 30},
    # 02 は手で書いた逆伝播で学習した 2 層のネットワーク（自動微分版との差はノートブックが表示する）
    "02_backpropagation": {"acc": 0.970, "cpu_s": 180, "gpu_s": 30},
    "03_mlp": {"acc": 0.980, "cpu_s": 240, "gpu_s": 30},
    "04_cnn": {"acc": 0.992, "cpu_s": 360, "gpu_s": 60},
    "05_four_vs_nine": {"acc": 0.990, "cpu_s": 480, "gpu_s": 90},
    "06_vision_transformer": {"acc": 0.985, "acc_gpu": 0.995, "cpu_s": 1200, "gpu_s": 90},
    # 07 は正解率の代わりに、サンプル写真で妥当なクラスが top-5 に入った割合（学習済みの重みのときだけ記録される）
    "07_pretrained_models": {"top5": 1.0, "cpu_s": 600, "gpu_s": 180},
    # 08 はラベル 1,000 枚で、検証データで選んだやり方の 4 と 9 のテスト正解率
    "08_transfer_learning": {"acc": 0.970, "cpu_s": 480, "gpu_s": 120},
}
COURSE_GPU_S = 180  # 講座全体（すべてのノートブックの合計）を 1 台の GPU で何秒以内に終えたいか
# Colab の T4 の時間の見積もり（未測定）に使う倍率の幅。この講座の学習は GPU の計算ではなく、CPU が
# 演算を 1 つずつ GPU に送る時間で決まるので、T4 でも時間は主に Colab の CPU の速さで決まる。
# 測った GPU マシンの CPU に比べて 1.5〜3 倍遅いと仮定した値（仮定。README の説明を参照）
T4_FACTOR = (1.5, 3.0)
LATENCY_PREFIX = "latency_ms_"  # 07 のモデルごとの 1 枚の時間
# 表で正解率の横に括弧で添える記録（05 のベースライン）
EXTRA_METRICS = {"baseline_random": "当て推量", "baseline_majority": "多数派",
                 "baseline_linear": "線形"}


def device_info() -> dict[str, str]:
    """このマシンで講座が使うデバイスの種類と名前（ノートブックと同じ選び方）。"""
    if get_device().type == "cuda":
        return {"device_kind": "gpu", "device": torch.cuda.get_device_name(0)}
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"device_kind": "cpu", "device": f"{model}, {os.cpu_count()} コア"}


def find_notebooks(names: list[str]) -> list[Path]:
    """"04" や "04_cnn" や "notebooks/04_cnn.ipynb" からノートブックのパスを返す。"""
    every = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in every if p.stem == stem or p.stem.startswith(stem + "_")]
        if len(matches) != 1:
            raise SystemExit(f"ノートブック「{name}」が見つかりません（候補: "
                             f"{', '.join(p.stem for p in every)}）")
        chosen.append(matches[0])
    return chosen


def git_commit() -> str:
    """今のコミットの短い名前。ノートブックか course_utils に記録していない変更があれば「+変更あり」を付ける。"""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "不明"
    dirty = git("status", "--porcelain", "--", "notebooks", "course_utils")
    return f"{commit}+変更あり" if dirty else commit


def run_notebook(path: Path, limit_s: float, build: Path, info: dict | None = None) -> dict:
    """1 冊を上から順に実行し、状態・所要時間・記録された数値を返す。

    実行ずみの写し（build の中）のメタデータには、実行の記録（info と所要時間）を入れる。
    """
    nb = nbformat.read(path, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    with tempfile.TemporaryDirectory() as tmp:
        results_file = Path(tmp) / "results.jsonl"
        os.environ[RESULTS_ENV] = str(results_file)
        bar = tqdm(total=code_cells, desc=path.stem, unit="セル", leave=True)
        client = NotebookClient(nb, timeout=int(limit_s), kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        start = time.perf_counter()

        def before_cell(cell, cell_index):
            # 1 冊の上限から、ここまでに使った時間を引いた残りを、このセルの上限にする
            client.timeout = max(1, int(limit_s - (time.perf_counter() - start)))

        client.on_cell_start = before_cell
        client.on_cell_executed = lambda cell, cell_index, execute_reply: bar.update(1)
        status, detail = "ok", ""
        try:
            client.execute()
        except CellTimeoutError:
            status, detail = "timeout", f"上限 {limit_s:.0f} 秒を超えました"
        except CellExecutionError as error:
            status, detail = "error", str(error).strip().splitlines()[-1][:300]
        except DeadKernelError as error:
            status, detail = "error", f"カーネルが止まりました: {error}"
        wall_s = time.perf_counter() - start
        bar.close()
        os.environ.pop(RESULTS_ENV, None)
        metrics = read_results(results_file)
    nb.metadata[site_pages.RUN_KEY] = {**(info or {}), "wall_s": round(wall_s, 1), "status": status,
                                       "caveats": site_pages.caveats(metrics)}
    build.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, build / path.name)
    return {"notebook": path.stem, "status": status, "detail": detail,
            "wall_s": round(wall_s, 1), "metrics": metrics}


def one_epoch_seconds(model: nn.Module, loader, device: torch.device) -> float:
    """1 エポックの学習（SGD）にかかる秒数。"""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for X, y in loader:
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def loader_benchmark(device: torch.device) -> list[dict]:
    """訓練データ 1 エポックを DataLoader と FastLoader で学習し、時間を比べる（2 回の速いほう）。"""
    train_set = load_mnist(train=True)
    models = {"softmax": ("ソフトマックス回帰",
                          lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10))),
              "cnn": ("04 の CNN", CNN)}
    X_warm, y_warm = to_tensors(train_set)
    warm_up = FastLoader(X_warm[:512], y_warm[:512], batch_size=128, device=device)
    rows = []
    for key, (label, make) in models.items():
        # 最初の数回の計算はライブラリの準備で遅いので、測る前に少し回しておく
        one_epoch_seconds(make().to(device), warm_up, device)
        times = {}
        for loader_name in ("DataLoader", "FastLoader"):
            torch.manual_seed(0)
            model = make().to(device)
            build_start = time.perf_counter()
            if loader_name == "DataLoader":
                loader = DataLoader(train_set, batch_size=128, shuffle=True)
            else:
                loader = FastLoader.from_dataset(train_set, batch_size=128, shuffle=True,
                                                 device=device, seed=0)
            times[f"{loader_name}_build_s"] = time.perf_counter() - build_start
            # 共有のマシンでは 1 回の測定が揺れるので、2 回測って速いほうをとる
            times[loader_name] = min(one_epoch_seconds(model, loader, device) for _ in range(2))
        row = {"model": key, "label": label, "images": len(train_set),
               "dataloader_s": round(times["DataLoader"], 3),
               "fastloader_s": round(times["FastLoader"], 3),
               "fastloader_build_s": round(times["FastLoader_build_s"], 3),
               "ratio": round(times["DataLoader"] / times["FastLoader"], 1)}
        print(f"{label}: DataLoader {row['dataloader_s']:.2f} 秒, FastLoader "
              f"{row['fastloader_s']:.2f} 秒（準備 {row['fastloader_build_s']:.2f} 秒）, "
              f"{row['ratio']} 倍")
        rows.append(row)
    return rows


def merge(results: dict, new_runs: list[dict], new_loaders: list[dict], info: dict) -> dict:
    """同じデバイスの種類・同じノートブックの古い記録を、新しい記録で置き換える。"""
    kind = info["device_kind"]
    new_names = {run["notebook"] for run in new_runs}
    notebooks = [r for r in results.get("notebooks", [])
                 if not (r["device_kind"] == kind and r["notebook"] in new_names)]
    notebooks += [{**info, **run} for run in new_runs]
    loaders = results.get("loaders", [])
    if new_loaders:
        loaders = [r for r in loaders if r["device_kind"] != kind]
        loaders += [{**info, **row} for row in new_loaders]
    order = {"cpu": 0, "gpu": 1}
    notebooks.sort(key=lambda r: (r["notebook"], order.get(r["device_kind"], 2)))
    loaders.sort(key=lambda r: (order.get(r["device_kind"], 2), r["model"]))
    return {**results, "notebooks": notebooks, "loaders": loaders}  # profiles などはそのまま残す


def _seconds(s: float) -> str:
    return f"{s:.0f} 秒" if s < 120 else f"{s / 60:.1f} 分"


def _target_text(name: str) -> str:
    target = TARGETS.get(name)
    if not target:
        return "–"
    parts = []
    if "top5" in target:
        parts.append(f"サンプル写真で top-5 が妥当 {target['top5']:.0%}")
    if "acc" in target:
        acc = f"{target['acc']:.1%}"
        if "acc_gpu" in target:
            acc += f"（GPU {target['acc_gpu']:.1%}）"
        parts.append(f"≥ {acc}")
    parts.append(f"CPU ≤ {_seconds(target['cpu_s'])}、GPU ≤ {_seconds(target['gpu_s'])}")
    return "、".join(parts)


def slower_than_cpu(gpu_run: dict, cpu_run: dict | None) -> bool:
    """GPU の記録が、同じノートブックの CPU の記録より時間がかかったか（CPU の記録がなければ False）。"""
    return cpu_run is not None and gpu_run["wall_s"] > cpu_run["wall_s"]


def _cell(run: dict, cpu_run: dict | None = None) -> str:
    """表の 1 マス。cpu_run を渡すと（GPU のマス）、CPU より遅ければそう書いて ✗ にする。"""
    if run["status"] == "timeout":
        return f"時間切れ（{_seconds(run['wall_s'])}で停止）✗"
    if run["status"] == "error":
        return f"エラー ✗（{run['detail'][:60]}）"
    target = TARGETS.get(run["notebook"], {})
    kind = run["device_kind"]
    text, ok = [], True
    if "test_acc" in run["metrics"]:
        acc = run["metrics"]["test_acc"]["value"]
        extras = [f"{label} {run['metrics'][key]['value']:.1%}"
                  for key, label in EXTRA_METRICS.items() if key in run["metrics"]]
        text.append(f"{acc:.2%}" + (f"（{', '.join(extras)}）" if extras else ""))
        need = target.get(f"acc_{kind}", target.get("acc"))
        ok &= need is None or acc >= need
    elif "acc" in target:
        text.append("正解率の記録なし")
        ok = False
    if "top5_ok" in run["metrics"]:
        top5 = run["metrics"]["top5_ok"]["value"]
        text.append(f"top-5 が妥当 {top5:.0%}")
        ok &= top5 >= target["top5"]
    elif "top5" in target:
        text.append("学習済みの重みを読めず、top-5 は未確認")
        ok = False
    text.append(_seconds(run["wall_s"]))
    limit = target.get(f"{kind}_s")
    ok &= limit is None or run["wall_s"] <= limit
    if cpu_run is not None and cpu_run["status"] == "ok" and slower_than_cpu(run, cpu_run):
        text.append("CPU より遅い")
        ok = False
    return "、".join(text) + (" ✓" if ok else " ✗")


def results_table(results: dict) -> str:
    """results.json から README に載せる Markdown の表を作る。"""
    runs = results.get("notebooks", [])
    if not runs:
        return "まだ結果がありません。`scripts/benchmark.py` を実行してください。"
    kinds = [k for k in ("cpu", "gpu") if any(r["device_kind"] == k for r in runs)]
    names = {"cpu": "CPU", "gpu": "GPU"}
    lines = ["| ノートブック | 目標 | " + " | ".join(f"{names[k]}: 正解率、時間" for k in kinds)
             + " |", "| --- | --- | " + " | ".join("---" for _ in kinds) + " |"]
    def find(name: str, kind: str) -> dict | None:
        return next((r for r in runs if r["notebook"] == name and r["device_kind"] == kind), None)

    names_all = sorted({r["notebook"] for r in runs})
    for name in names_all:
        cells = []
        for kind in kinds:
            run = find(name, kind)
            cpu_run = find(name, "cpu") if kind == "gpu" else None
            cells.append(_cell(run, cpu_run) if run else "未測定")
        lines.append(f"| [{name}](notebooks/{name}.ipynb) | {_target_text(name)} | "
                     + " | ".join(cells) + " |")
    totals, total_s = [], {}
    for kind in kinds:
        found = [find(name, kind) for name in names_all]
        total_s[kind] = sum(r["wall_s"] for r in found if r)
        text = _seconds(total_s[kind]) + ("" if all(found) else f"（{sum(map(bool, found))} 冊）")
        if kind == "gpu":
            slower = any(r and slower_than_cpu(r, find(r["notebook"], "cpu")) for r in found)
            text += " ✓" if all(found) and total_s[kind] <= COURSE_GPU_S and not slower else " ✗"
        totals.append(text)
    lines.append(f"| 合計 | GPU ≤ {_seconds(COURSE_GPU_S)}、どのノートブックも GPU で CPU 以下の時間 | "
                 + " | ".join(totals) + " |")
    lines.append("")
    for kind in kinds:
        latest = max((r for r in runs if r["device_kind"] == kind), key=lambda r: r["date"])
        dates = sorted({r["date"][:10] for r in runs if r["device_kind"] == kind})
        lines.append(f"- {names[kind]}: {latest['device']}、PyTorch {latest['torch']}、"
                     f"Python {latest['python']}、測定日 {', '.join(dates)}")
    if "gpu" in total_s:
        total = total_s["gpu"]
        low, high = (total * f for f in T4_FACTOR)
        lines.append(f"- Colab の T4（未測定）の見積もり: GPU の列の合計 {_seconds(total)}の "
                     f"{T4_FACTOR[0]:g}〜{T4_FACTOR[1]:g} 倍で、{_seconds(low)}〜{_seconds(high)}"
                     "（求め方は「実測の方法」の「Colab の T4 での時間」）")
    latency = [r for r in runs if any(key.startswith(LATENCY_PREFIX) for key in r["metrics"])]
    if latency:
        models = [key[len(LATENCY_PREFIX):] for key in latency[0]["metrics"]
                  if key.startswith(LATENCY_PREFIX)]
        lines += ["", "07 の 1 枚あたりの推論時間（バッチ 1、中央値）:", "",
                  "| モデル | " + " | ".join(names[r["device_kind"]] for r in latency) + " |",
                  "| --- | " + " | ".join("---" for _ in latency) + " |"]
        random_seen = False
        for model in models:
            cells = []
            for r in latency:
                item = r["metrics"].get(LATENCY_PREFIX + model)
                if item is None:
                    cells.append("–")
                    continue
                random = site_pages.RANDOM_WEIGHTS in item.get("label", "")
                random_seen |= random
                cells.append(f"{item['value']:,.1f} ms" + ("（ランダム）" if random else ""))
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        if random_seen:
            lines += ["", "（ランダム）: 学習済みの重みを読めず、同じ構造のランダムな重みで測った値です。"
                      "時間は重みの値によらず、構造で決まります。"]
    profiles = results.get("profiles", [])
    if profiles:
        lines += ["", "学習 1 ステップの中身（`scripts/profile_steps.py`）。演算は PyTorch が実行した計算の数で、"
                  "GPU ではほぼ 1 つずつカーネルの起動になります。同期は、GPU では CPU が GPU の計算の終わりを"
                  "待つ回数、CPU では値を CPU に読み出す回数（GPU で学習すれば同期になるもの）です。"
                  "GFLOP は 1 ステップの行列積・畳み込み・注意の浮動小数点演算の数です。", "",
                  "| デバイス | Adam・AdamW | 対象 | ミニバッチ | 1 ステップ | GFLOP | 演算 | 同期（ステップごと） "
                  "| 同期（エポックの終わりなど） | カーネルの起動 | GPU が計算していた割合 |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        order = {"cpu": 0, "gpu": 1}
        for row in sorted(profiles, key=lambda r: (order.get(r["device_kind"], 2),
                                                   r["optimizer_impl"] != "notebook",
                                                   r["workload"])):
            gpu = "kernel_launches" in row
            impl = {"notebook": "ノートブックと同じ"}.get(row["optimizer_impl"], row["optimizer_impl"])
            lines.append(f"| {names[row['device_kind']]} | {impl} | {row['label']} | {row['batch']} | "
                         f"{row['ms_per_step']:.2f} ms | {row.get('gflop', 0):g} | {row['ops']:g} | "
                         f"{row['syncs']:g} | "
                         f"{row['syncs_per_epoch']:g} | "
                         + (f"{row['kernel_launches']:g} | {row['gpu_busy']:.0%} |" if gpu
                            else "– | – |"))
    loaders = results.get("loaders", [])
    if loaders:
        lines += ["", "訓練データ 1 エポック（ミニバッチ 128、SGD）の学習時間（2 回測った速いほう）:", "",
                  "| デバイス | モデル | DataLoader | FastLoader（準備） | 比 |",
                  "| --- | --- | --- | --- | --- |"]
        for row in loaders:
            lines.append(f"| {names[row['device_kind']]} | {row['label']}（{row['images']:,} 枚）"
                         f" | {row['dataloader_s']:.2f} 秒 | {row['fastloader_s']:.2f} 秒"
                         f"（{row['fastloader_build_s']:.2f} 秒） | {row['ratio']} 倍 |")
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> None:
    """README のマーカーの間を表で置き換える。"""
    text = readme.read_text(encoding="utf-8")
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise SystemExit(f"{readme} に {TABLE_BEGIN} と {TABLE_END} がありません")
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    readme.write_text(f"{head}{TABLE_BEGIN}\n{table}\n{TABLE_END}{tail}", encoding="utf-8")


def add_run_arguments(parser: argparse.ArgumentParser, default_timeout: float) -> None:
    """このスクリプトの引数（scripts/gpu_check.py も同じ引数を受け取って、そのまま渡す）。"""
    parser.add_argument("notebooks", nargs="*", help="実行するノートブック（省略するとすべて）")
    parser.add_argument("--timeout", type=float, default=default_timeout,
                        help=f"1 冊あたりの上限（秒、既定 {default_timeout:g}）")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "notebooks",
                        help="実行ずみのノートブックの置き場所")
    parser.add_argument("--no-loaders", action="store_true",
                        help="DataLoader と FastLoader の比較を省く")
    parser.add_argument("--seed", type=int, default=None,
                        help="学習の乱数シードの基準（COURSE_SEED）。結論が別のシードでも同じかを確かめる")
    parser.add_argument("--store", action="store_true",
                        help="うまく実行できたノートブックを、サイトのページの元（docs/executed/）として置く")
    parser.add_argument("--quick", action="store_true",
                        help="クイックモードで実行する（テスト用。--results と --readme が必要）")


def run_arguments(args: argparse.Namespace) -> list[str]:
    """add_run_arguments で受け取った値を、main に渡せる引数の列に戻す。"""
    argv = [*args.notebooks, "--timeout", str(args.timeout), "--results", str(args.results),
            "--readme", str(args.readme), "--build", str(args.build)]
    seed = [] if args.seed is None else ["--seed", str(args.seed)]
    return (argv + ["--no-loaders"] * args.no_loaders + ["--quick"] * args.quick + ["--store"] * args.store
            + seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, default_timeout=1800)
    args = parser.parse_args(argv)

    if args.seed is not None:
        defaults = {ROOT / "benchmarks" / "results.json", ROOT / "README.md"}
        if args.seed != 0 and {args.results.resolve(), args.readme.resolve()} & defaults:
            parser.error("シード 0 以外の結果は本物の表に書けません（README の表はシード 0 の実行です）。"
                         "--results と --readme に別の場所を指定してください。")
        os.environ[SEED_ENV] = str(args.seed)
    else:
        os.environ.pop(SEED_ENV, None)  # 表の数字はいつもシード 0 の実行
    if args.quick:
        defaults = {ROOT / "benchmarks" / "results.json", ROOT / "README.md"}
        if {args.results.resolve(), args.readme.resolve()} & defaults:
            parser.error("クイックモードの結果は本物の表に書けません。"
                         "--results と --readme に別の場所を指定してください。")
        os.environ[QUICK_ENV] = "1"
    else:
        os.environ.pop(QUICK_ENV, None)
        try:
            mnist_root()  # 本物の MNIST があるか（なければダウンロード）を先に確かめる
        except MNISTDataError as error:
            print(error, file=sys.stderr)
            return 2

    paths = find_notebooks(args.notebooks)
    info = {**device_info(), "torch": torch.__version__,
            "python": platform.python_version(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full", "commit": git_commit(),
            "seed": int(os.environ.get(SEED_ENV, "0") or 0)}
    print(f"デバイス: {info['device']} / PyTorch {info['torch']} / {len(paths)} 冊 / "
          f"{'クイック' if args.quick else '通常'}モード")
    runs = []
    for path in paths:
        run = run_notebook(path, args.timeout, args.build, info)
        runs.append(run)
        if args.store and run["status"] == "ok":  # サイトのページにする写し（失敗した実行は置かない）
            stored = site_pages.store(args.build / path.name)
            print(f"サイト用の写し: {stored.relative_to(ROOT) if stored.is_relative_to(ROOT) else stored}")
        shown = ", ".join(f"{m['label']} {format_value(m['value'], m['percent'])}"
                          for m in run["metrics"].values())
        print(f"{path.stem}: {run['status']} {run['wall_s']:.1f} 秒 {shown} {run['detail']}")
    loaders = [] if args.no_loaders else loader_benchmark(get_device())

    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    results = merge(results, runs, loaders, info)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    update_readme(args.readme, results_table(results))
    print(f"結果: {args.results} / 表: {args.readme} / 実行ずみのノートブック: {args.build}")
    return 0 if all(run["status"] == "ok" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
