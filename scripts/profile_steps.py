"""学習 1 ステップの中身を数える: 演算の数、CPU と GPU の同期、デバイスをまたぐコピー、時間。

各レッスンと同じコードで数ステップ学習し、1 ステップあたりの値を表にする。
- 02: ノートブックの init_params・forward・backward・cross_entropy で、手で書いた逆伝播と
  自動微分の 2 つを 1 ステップずつ（ノートブックの学習のセルと同じ）
- 03: course_utils.models.MLP を fit で（Adam、コサインの学習率、ミニバッチ 128）
- 04: course_utils.models.CNN を fit で（同上、channels_last の FastLoader）
- 06: ノートブックの ViT・random_affine・warmup_cosine を fit で（AdamW、ラベル平滑化、
  勾配クリッピング、GPU では float16 の混合精度）。設定は GPU なら gpu_config、CPU なら cpu_config
- evaluate: 04 の CNN で検証データ（ミニバッチ 1000 枚）を 1 回評価する

数えるもの（1 ステップあたり。fit がエポックの終わりに 1 回だけすることは、ステップ数で割った値になる）:
- 演算: PyTorch が実行する計算（aten の演算）。GPU ではほぼ 1 つごとにカーネルを 1 回起動する。
  view や空のテンソルを作るだけの、計算をしない演算は数えない
- 同期: 値を CPU に読み出す演算（.item()・float()・int()・bool()、GPU から CPU へのコピー）と、
  出力の大きさが値で決まる演算（nonzero など）。GPU ではそのたびに CPU が GPU の計算の終わりを待つ
- コピー: デバイスをまたぐコピー（CPU から GPU など）の回数とバイト数。CPU だけのときは 0
- GPU があれば、torch.profiler でカーネルの起動回数と、GPU が計算していた時間の割合も測る

使い方（リポジトリの一番上で）:
    .venv/bin/python scripts/profile_steps.py                # すべて。表を表示する
    .venv/bin/python scripts/profile_steps.py 06 --optimizer-impl foreach   # 比べる用
    .venv/bin/python scripts/profile_steps.py --results benchmarks/results.json  # 記録も残す
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import io
import json
import math
import platform
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "scripts"):  # どこから実行しても course_utils と benchmark を読めるように
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from benchmark import device_info  # noqa: E402  (scripts/ の benchmark.py)
from course_utils.data import MNIST_MEAN, MNIST_STD, FastLoader  # noqa: E402
from course_utils.models import CNN, MLP  # noqa: E402
from course_utils.training import evaluate, fit  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
# 計算をしない（メモリを確保するだけ、見え方を変えるだけの）演算
NO_COMPUTE = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
              "_unsafe_view", "lift_fresh", "detach", "resize_", "set_"}
# 値を CPU に読み出す演算、出力の大きさが値で決まる演算（GPU では同期になる）
SYNC_OPS = {"_local_scalar_dense", "nonzero", "masked_select", "is_nonzero", "equal",
            "_unique2", "unique_dim", "unique_consecutive", "repeat_interleave"}
LAUNCH_EVENTS = {"cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx"}
SYNC_EVENTS = {"cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize"}


def call_site() -> str:
    """演算を呼んだ場所（PyTorch の中なら torch/ からのパスと関数名、それ以外はファイルと行）。"""
    torch_dir = Path(torch.__file__).parent
    frame = sys._getframe(1)  # 逆伝播を別のスレッドで計算するとき（GPU）は、呼び出しの列が短いこともある
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        inside = torch_dir in path.parents
        wrapper = (path.name in {"contextlib.py", "functools.py", "_compile.py", "grad_mode.py"}
                   or (inside and path.relative_to(torch_dir).parts[0] in {"_dynamo", "utils"})
                   or frame.f_code.co_name in {"__torch_dispatch__", "call_site"})
        if not wrapper:  # デコレータなどの包み紙の関数は飛ばす
            if inside:
                return f"torch/{path.relative_to(torch_dir)}:{frame.f_code.co_name}"
            where = path.relative_to(ROOT) if ROOT in path.parents else path.name
            return f"{where}:{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


class OpCounter(TorchDispatchMode):
    """実行された aten の演算を、計算・同期・デバイスをまたぐコピーに分けて数える。

    GPU で学習するとき（device が cpu 以外）は、GPU の上のテンソルの値を読む演算だけを同期と数える。
    CPU で学習するときは同期そのものがないので、値を CPU に読み出す演算を数える（GPU で学習すれば
    同期になるもの。ただし F.one_hot の値の確かめのように、PyTorch が CPU のときだけ行うものも入る）。
    どちらでも、オプティマイザが step の回数を読む _get_value は数えない（GPU でも、fused でなければ
    step の回数は CPU に置かれるので、同期にならない）。
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        super().__init__()
        self.on_gpu = torch.device(device).type != "cpu"
        self.compute = Counter()
        self.syncs = Counter()
        self.host_reads = Counter()
        self.copies = 0
        self.copy_bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__
        source = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
        target = out.device if isinstance(out, torch.Tensor) else None
        if name in {"_to_copy", "copy_"} and source is not None and target is not None:
            if name == "copy_":  # copy_(dst, src): dst が出力
                source = args[1].device if isinstance(args[1], torch.Tensor) else source
            if source != target:
                self.copies += 1
                self.copy_bytes += out.numel() * out.element_size()
                if target.type == "cpu":  # GPU から CPU へ: 値が揃うまで CPU が待つ
                    self.syncs[f"{name}（→ CPU）"] += 1
                return out
        if name in SYNC_OPS:
            site = call_site()
            on_cpu = source is not None and source.type == "cpu"
            if site.endswith(":_get_value") or (self.on_gpu and on_cpu):
                self.host_reads[site] += 1  # CPU にある値を読むだけ（GPU を待たない）
            else:
                self.syncs[f"{name} @ {site}"] += 1
        elif not (func.is_view or name in NO_COMPUTE):
            self.compute[name] += 1
        return out


def notebook_definitions(name: str, namespace: dict, assignments: set[str] = frozenset()) -> dict:
    """ノートブックのコードのセルから、関数・クラスの定義と定数の代入（と、assignments の名前への
    代入）だけを実行して namespace に入れる。

    図を描く・学習するなどの文は実行しない。ノートブックと同じ定義で測るためのもの。
    """
    path = next(NOTEBOOKS.glob(f"{name}_*.ipynb"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if "google.colab" in source:  # 準備のセル（import は namespace で用意する）
            continue
        tree = ast.parse(source)
        keep = [node for node in tree.body
                if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                or (isinstance(node, ast.Assign) and (isinstance(node.value, ast.Constant) or any(
                    isinstance(t, ast.Name) and t.id in assignments for t in node.targets)))]
        # 呼んだ場所（call_site）に、ノートブックの名前とセルの番号（0 から）が出るように
        where = f"{path.name}#セル{index}"
        exec(compile(ast.Module(body=keep, type_ignores=[]), where, "exec"), namespace)
    return namespace


def base_namespace(device: torch.device) -> dict:
    from dataclasses import dataclass
    return {"torch": torch, "nn": nn, "F": F, "math": math, "dataclass": dataclass,
            "replace": replace, "device": device, "__name__": "__main__"}


def random_images(count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST と同じ形・同じくらいの値の範囲の画像とラベル（値は学習の速さに関係しない）。"""
    g = torch.Generator().manual_seed(seed)
    X = (torch.rand(count, 1, 28, 28, generator=g) - MNIST_MEAN) / MNIST_STD
    return X, torch.randint(0, 10, (count,), generator=g)


def make_optimizer(kind: str, params, lr: float, device: torch.device, impl: str,
                   **kwargs) -> torch.optim.Optimizer:
    """impl="notebook": ノートブックと同じ作り方（GPU では fused、CPU では PyTorch の既定）。

    "fused"・"foreach": どのデバイスでもその実装にする（CPU で GPU と同じ演算の数を数える、比べる）。
    foreach は GPU での PyTorch の既定で、このスクリプトより前のノートブックの GPU での動き。
    """
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    if impl == "notebook":
        return cls(params, lr=lr, fused=device.type == "cuda", **kwargs)
    return cls(params, lr=lr, **{impl: True}, **kwargs)


def fit_workload(name: str, device: torch.device, impl: str, vit_config: str,
                 max_steps: int = 60) -> tuple[str, int, Callable[[int], None]]:
    """(説明, ミニバッチの大きさ, steps ステップ（max_steps まで）学習する関数) を返す。"""
    quiet = contextlib.redirect_stdout(io.StringIO())
    # 画像はここで 1 回だけ作って学習するデバイスに送る（数える・測る run の外で）
    X_pool, y_pool = (t.to(device) for t in random_images(max_steps * 256))

    def images(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """先頭から count 枚の画像とラベル（学習するデバイスの上）。"""
        if count > len(y_pool):
            raise ValueError(f"ステップが多すぎます（{count} 枚 > {len(y_pool)} 枚）")
        return X_pool[:count], y_pool[:count]

    if name in {"03", "04"}:
        make, label = (MLP, "03 MLP") if name == "03" else (CNN, "04 CNN")
        batch, channels_last = 128, name == "04"

        def run(steps: int) -> None:
            X, y = images(steps * batch)
            loader = FastLoader(X, y, batch_size=batch, shuffle=True, device=device, seed=0,
                                channels_last=channels_last)
            torch.manual_seed(0)
            model = make().to(device)
            optimizer = make_optimizer("adam", model.parameters(), 1e-3, device, impl)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
            with quiet:
                fit(model, loader, None, nn.CrossEntropyLoss(), optimizer, 1, device,
                    scheduler=scheduler, progress=False)
        return f"{label}（fit、Adam）", batch, run

    if name == "06":
        ns = notebook_definitions("06", base_namespace(device), assignments={"cpu_config", "gpu_config"})
        config = ns[f"{vit_config}_config"]  # ノートブックで決めた CPU 用・GPU 用の設定
        use_amp = device.type == "cuda"

        def run(steps: int) -> None:
            X, y = images(steps * config.batch_size)
            loader = FastLoader(X, y, batch_size=config.batch_size, shuffle=True, device=device,
                                seed=0)
            torch.manual_seed(0)
            model = ns["ViT"](config).to(device)
            optimizer = make_optimizer("adamw", model.parameters(), 2e-3, device, impl,
                                       weight_decay=0.05)
            scheduler = ns["warmup_cosine"](optimizer, 1, steps)
            with quiet:
                fit(model, loader, None, nn.CrossEntropyLoss(label_smoothing=0.1), optimizer, 1,
                    device, scheduler=scheduler, augment=ns["random_affine"],
                    max_grad_norm=1.0, mixed_precision=use_amp, progress=False)
        amp = "、float16" if use_amp else ""
        return (f"06 ViT（{vit_config} の設定: パッチ {config.patch_size}、dim {config.dim}、"
                f"{config.depth} ブロック{amp}）", config.batch_size, run)

    if name == "02":
        ns = notebook_definitions("02", base_namespace(device))
        batch, lr = 128, 0.1

        def run(steps: int) -> None:
            X_all, y_all = images(steps * batch)
            loader = FastLoader(X_all, y_all, batch_size=batch, shuffle=True, device=device, seed=0)
            hand = ns["init_params"]()
            auto = {key: p.clone().requires_grad_() for key, p in hand.items()}
            for X, y in loader:  # ノートブックの学習のセルと同じ 1 ステップ
                X = X.flatten(1)
                grads = ns["backward"](hand, X, y, *ns["forward"](hand, X))
                for key in hand:
                    hand[key] -= lr * grads[key]
                ns["cross_entropy"](ns["forward"](auto, X)[2], y).backward()
                with torch.no_grad():
                    for p in auto.values():
                        p -= lr * p.grad
                        p.grad = None
        return "02 手で書いた逆伝播 + 自動微分（SGD）", batch, run

    if name == "evaluate":
        batch, count = 1000, 6000

        X, y = images(count)
        loader = FastLoader(X, y, batch_size=batch, device=device, channels_last=True, seed=0)
        model = CNN().to(device)

        def run(steps: int) -> None:
            for _ in range(steps):
                evaluate(model, loader, nn.CrossEntropyLoss(), device)
        return f"evaluate（04 CNN、検証 {count:,} 枚を 1 回）", batch, run
    raise SystemExit(f"知らない対象です: {name}")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _counted(run: Callable[[int], None], steps: int, device: torch.device) -> OpCounter:
    with OpCounter(device) as counter:
        run(steps)
    return counter


def _flops(run: Callable[[int], None], steps: int) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        run(steps)
    return counter.get_total_flops()


def _seconds(run: Callable[[int], None], steps: int, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    run(steps)
    synchronize(device)
    return time.perf_counter() - start


def profile(name: str, device: torch.device, impl: str, vit_config: str,
            count_steps: int, time_steps: int) -> dict:
    """1 ステップあたりの値を返す。

    run(n) はモデルとオプティマイザを作るところから始まり、最後のエポックの終わりの集計までを含むので、
    n + 1 ステップと 1 ステップの差を n で割って、準備と後始末の分を除く
    （その準備と後始末の分の同期（エポックの終わりの集計など）は syncs_per_epoch に残す）。
    """
    label, batch, run = fit_workload(name, device, impl, vit_config,
                                     max_steps=max(count_steps, time_steps, 24) + 1)
    run(2)  # 準備（最初の数回はライブラリの初期化で遅い）
    one, many = _counted(run, 1, device), _counted(run, count_steps + 1, device)

    def per_step(a: float, b: float, digits: int = 2) -> float:
        return round((b - a) / count_steps, digits)

    seconds = (_seconds(run, time_steps + 1, device) - _seconds(run, 1, device)) / time_steps
    flops = _flops(run, 2) - _flops(run, 1)  # 1 ステップの行列積・畳み込み・注意の浮動小数点演算の数
    key = f"06-{vit_config}" if name == "06" else name  # 06 は設定ごとに別の記録にする
    syncs = per_step(sum(one.syncs.values()), sum(many.syncs.values()))
    row = {"workload": key, "label": label, "batch": batch,
           "ms_per_step": round(seconds * 1000, 2),
           "ops": per_step(sum(one.compute.values()), sum(many.compute.values()), 1),
           "syncs": syncs,
           # 1 ステップだけの学習の同期から、ステップごとの分を引いた残り（エポックの終わりなど）
           "syncs_per_epoch": round(sum(one.syncs.values()) - syncs, 2),
           "sync_ops": dict(many.syncs), "host_reads": dict(many.host_reads),
           "copies": per_step(one.copies, many.copies),
           "copy_kb": round((many.copy_bytes - one.copy_bytes) / count_steps / 1024, 1),
           "top_ops": dict((many.compute - one.compute).most_common(8)),
           "gflop": round(flops / 1e9, 2), "steps_counted": count_steps, "optimizer_impl": impl}
    if device.type == "cuda":
        row.update(cuda_profile(run, count_steps, seconds))
    return row


def _cuda_events(run: Callable[[int], None], steps: int) -> tuple[int, int, float]:
    """(カーネルの起動回数, 同期の回数, カーネルの時間 [µs])。"""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    torch.cuda.synchronize()
    with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        run(steps)
        torch.cuda.synchronize()
    events = prof.events()
    return (sum(e.name in LAUNCH_EVENTS for e in events),
            sum(e.name in SYNC_EVENTS for e in events),
            sum(getattr(e, "device_time", None) or getattr(e, "cuda_time", 0)  # 2.4 より前は cuda_time
                for e in events if e.device_type == torch.autograd.DeviceType.CUDA))


def cuda_profile(run: Callable[[int], None], steps: int, seconds_per_step: float) -> dict:
    """torch.profiler で、1 ステップのカーネルの起動回数・同期の回数と、GPU が計算していた割合を測る。

    割合は、1 ステップのカーネルの時間を、プロファイラなしで測った 1 ステップの時間で割る
    （プロファイラを付けると CPU の側が遅くなるので、その時間では割らない）。
    """
    one, many = _cuda_events(run, 1), _cuda_events(run, steps + 1)
    launches, syncs, kernel_us = (b - a for a, b in zip(one, many))
    busy = kernel_us / steps / (seconds_per_step * 1e6) if seconds_per_step > 0 else 0.0
    return {"kernel_launches": round(launches / steps, 1), "cuda_syncs": round(syncs / steps, 2),
            "gpu_busy": round(min(busy, 1.0), 3)}


def table(rows: list[dict]) -> str:
    gpu = any("kernel_launches" in r for r in rows)
    head = ("| 対象 | ミニバッチ | 1 ステップ | GFLOP | 演算 | 同期（ステップごと） | 同期（エポックの終わりなど） "
            "| デバイスをまたぐコピー |")
    line = "| --- | --- | --- | --- | --- | --- | --- | --- |"
    if gpu:
        head += " カーネルの起動 | CUDA の同期 | GPU が計算していた割合 |"
        line += " --- | --- | --- |"
    out = [head, line]
    for r in rows:
        where = ", ".join(f"{k} {v}" for k, v in r["sync_ops"].items())
        syncs = f"{r['syncs']:g}"
        text = (f"| {r['label']} | {r['batch']} | {r['ms_per_step']:.2f} ms | {r['gflop']:g} | {r['ops']:g} | "
                f"{syncs} | {r['syncs_per_epoch']:g}" + (f"（{r['steps_counted'] + 1} ステップの学習で: "
                                                        f"{where}）" if where else "")
                + f" | {r['copies']:g} 回、{r['copy_kb']:g} KB |")
        if gpu:
            text += (f" {r.get('kernel_launches', '–')} | {r.get('cuda_syncs', '–')} | "
                     f"{r.get('gpu_busy', 0):.0%} |")
        out.append(text)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["02", "03", "04", "06", "evaluate"])
    parser.add_argument("--optimizer-impl", choices=["notebook", "fused", "foreach"],
                        default="notebook",
                        help="Adam・AdamW の実装（notebook: ノートブックと同じ。GPU では fused、"
                             "CPU では PyTorch の既定）")
    parser.add_argument("--vit-config", choices=["auto", "gpu", "cpu"], default="auto",
                        help="06 の ViT の設定（auto: GPU なら gpu、CPU なら cpu）")
    parser.add_argument("--count-steps", type=int, default=10)
    parser.add_argument("--time-steps", type=int, default=0,
                        help="時間を測るステップ数（0: GPU は 50、CPU は 10）")
    parser.add_argument("--results", type=Path, help="この JSON の profiles に記録を足す")
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    vit_config = args.vit_config if args.vit_config != "auto" else (
        "gpu" if device.type == "cuda" else "cpu")
    time_steps = args.time_steps or (50 if device.type == "cuda" else 10)
    info = device_info()
    print(f"デバイス: {info['device']} / PyTorch {torch.__version__} / "
          f"Adam・AdamW: {args.optimizer_impl}")
    rows = []
    for workload in args.workloads:
        row = profile(workload, device, args.optimizer_impl, vit_config, args.count_steps,
                      time_steps)
        print(f"{row['label']}: {row['ms_per_step']:.2f} ms/ステップ, 演算 {row['ops']:g}, "
              f"同期 {row['syncs']:g}, 多い演算 {row['top_ops']}")
        rows.append(row)
    print()
    print(table(rows))
    if args.results:
        info = {**info, "torch": torch.__version__, "python": platform.python_version(),
                "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        results = json.loads(args.results.read_text()) if args.results.exists() else {}
        new_keys = {(info["device_kind"], row["optimizer_impl"], row["workload"]) for row in rows}
        kept = [r for r in results.get("profiles", [])
                if (r["device_kind"], r["optimizer_impl"], r["workload"]) not in new_keys]
        results["profiles"] = kept + [{**info, **row} for row in rows]
        args.results.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
        print(f"記録: {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
