"""scripts/profile_steps.py（1 ステップの中身）・scripts/gpu_check.py と、学習ループに同期がないことの検査。"""

import datetime
import json
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from course_utils.data import random_shift
from scripts import gpu_check, profile_steps


def _count(function, *args):
    with profile_steps.OpCounter() as counter:
        function(*args)
    return counter


def test_counter_finds_reads_to_the_host_and_skips_views():
    x = torch.randn(4, 3)
    counter = _count(lambda t: (t.view(12).t() + 1).sum().item(), x)
    assert sum(counter.syncs.values()) == 1
    (site,) = counter.syncs
    assert site.startswith("_local_scalar_dense @ tests/test_profile.py:<lambda>:")
    assert set(counter.compute) == {"add", "sum"}  # view と t は計算しない


def test_counter_does_not_count_the_optimizers_step_counter_as_a_sync():
    w = torch.zeros(3, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=0.1)  # CPU の既定の実装は step を .item() で読む
    w.sum().backward()
    counter = _count(optimizer.step)
    assert not counter.syncs
    assert counter.host_reads


def test_evaluate_reads_the_host_only_once_per_call():
    _, _, run = profile_steps.fit_workload("evaluate", torch.device("cpu"), "notebook", "cpu")
    counter = _count(run, 1)  # 6 ミニバッチ
    assert sum(counter.syncs.values()) == 2, counter.syncs  # 損失と正解の数を最後に 1 回ずつ


@pytest.mark.parametrize("name", ["03", "04", "06"])
def test_fit_reads_the_host_only_at_the_end_of_the_epoch(name):
    _, _, run = profile_steps.fit_workload(name, torch.device("cpu"), "notebook", "cpu")
    counter = _count(run, 3)  # 1 エポック 3 ステップ
    assert sum(counter.syncs.values()) == 2, counter.syncs


def test_random_shift_does_not_read_the_host():
    counter = _count(random_shift, torch.randn(8, 1, 28, 28))
    assert not counter.syncs


def test_notebook_definitions_take_only_definitions_from_06():
    namespace = profile_steps.notebook_definitions("06", profile_steps.base_namespace("cpu"))
    model = namespace["ViT"](namespace["ViTConfig"](dim=32, depth=1, heads=2))
    X = namespace["random_affine"](torch.randn(2, 1, 28, 28))
    assert model(X).shape == (2, 10)
    assert "train_loader" not in namespace and "history" not in namespace  # 学習のセルは実行しない


def test_profile_rows_and_table_on_the_cpu():
    row = profile_steps.profile("03", torch.device("cpu"), "fused", "cpu", count_steps=2,
                                time_steps=2)
    assert row["ops"] > 10 and row["ms_per_step"] > 0
    assert row["syncs"] == 0 and row["syncs_per_epoch"] == 2  # エポックの終わりの 2 回だけ
    assert row["copies"] == 0
    assert "| 03 MLP（fit、Adam） | 128 |" in profile_steps.table([row])


def _gpu_results(gpu_s, acc_06=0.996, cpu_s=None):
    runs = []
    for name, seconds in gpu_s.items():
        metrics = {"test_acc": {"value": acc_06}} if name == gpu_check.VIT else {}
        runs.append({"notebook": name, "device_kind": "gpu", "status": "ok", "detail": "",
                     "wall_s": seconds, "metrics": metrics})
    for name, seconds in (cpu_s or {}).items():
        runs.append({"notebook": name, "device_kind": "cpu", "status": "ok", "detail": "",
                     "wall_s": seconds, "metrics": {}})
    return {"notebooks": runs}


def test_summary_compares_with_the_course_targets():
    good = gpu_check.summary(_gpu_results({"01_x": 20, gpu_check.VIT: 80}, cpu_s={"01_x": 30}))
    assert good[0].startswith("✓ 講座全体: 100 秒") and good[1].startswith("✓ 06: 80 秒")
    assert good[2] == "✓ どのノートブックも GPU で CPU の記録以下の時間"
    bad = gpu_check.summary(_gpu_results({"01_x": 40, gpu_check.VIT: 150}, acc_06=0.994,
                                         cpu_s={"01_x": 30, "02_y": 10}))
    assert bad[0].startswith("✗ 講座全体: 190 秒") and "GPU の記録がないノートブック: 02_y" in bad[0]
    assert bad[1].startswith("✗ 06: 150 秒・テスト正解率 99.40%")
    assert bad[2] == "✗ CPU より遅いノートブック: 01_x（GPU 40 秒 > CPU 30 秒）"


def test_gpu_check_refuses_without_a_gpu_in_japanese(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="GPU（CUDA）が見つかりません"):
        gpu_check.check_environment(allow_cpu=False)


def test_gpu_check_runs_end_to_end_on_the_cpu_in_quick_mode(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results-table -->\n<!-- /results-table -->\n", encoding="utf-8")
    results = tmp_path / "results.json"
    shutil.copy(ROOT / "benchmarks" / "results.json", results)
    start = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    done = subprocess.run(
        [sys.executable, "scripts/gpu_check.py", "00", "--allow-cpu", "--quick", "--no-loaders",
         "--results", str(results), "--readme", str(readme), "--build", str(tmp_path / "nb")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    written = json.loads(results.read_text())
    impls = {(r["workload"], r["optimizer_impl"]) for r in written["profiles"] if r["date"] >= start}
    assert impls == {("03", "notebook"), ("03", "foreach"), ("evaluate", "notebook"),
                     ("evaluate", "foreach")}
    assert "学習 1 ステップの中身" in readme.read_text(encoding="utf-8")
    assert "講座全体" in done.stdout


MISSING = """
import sys
sys.modules["ipywidgets"] = None  # 入っていない環境と同じく、import できなくする
sys.modules["anywidget"] = None
import torch
from course_utils import live, own_classes, photos, training, widgets
X, y = torch.zeros(3, 1, 28, 28), torch.zeros(3, dtype=torch.long)
made = [live.DigitPad(lambda images: images, {"そのまま": lambda image: image}),
        live.CameraCapture(lambda image, name: None), photos.PhotoUploader(lambda image, name: None),
        own_classes.OwnClassesTrainer(lambda photos: None, lambda model, image, name: None),
        widgets.PredictionExplorer(torch.nn.Flatten(), X, y), widgets.MistakesBrowser(X, y, y)]
for part in made:
    part._ipython_display_()
print(made[0].draw([[[1, 2], [3, 4]]]), made[1].take("data:"))
print(training.tqdm.__module__)
for name in ("saved", "drwa"):  # メソッドでない属性と、打ち間違えた名前は日本語のエラー
    try:
        getattr(made[0], name)
    except AttributeError as error:
        print(error)
"""


def test_widgets_explain_missing_packages_in_japanese():
    done = subprocess.run([sys.executable, "-c", MISSING], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("この部品（DigitPad）を表示するには ipywidgets と anywidget が必要ですが、"
                               "ipywidgets と anywidget が入っていません。")
    assert "`pip install ipywidgets anywidget`" in lines[1]
    assert lines[5].startswith("この部品（MistakesBrowser）を表示するには ipywidgets が必要ですが")
    assert lines[6] == "None None"  # 部品のメソッドは何もしない
    assert lines[7] == "tqdm.std"  # 進み具合は文字だけで表示する（tqdm.auto は英語のエラーになる）
    assert lines[8].startswith("DigitPad は、必要なパッケージが読み込めないので作られていません。「saved」は使えません")
    assert "「drwa」は使えません" in lines[9]


def test_a_broken_package_is_reported_with_its_error(monkeypatch):
    from course_utils import env
    monkeypatch.setitem(sys.modules, "broken_widget_package", None)  # import すると ImportError
    monkeypatch.setattr(env.importlib.util, "find_spec", lambda name: object())  # 「入っている」

    class Part(env.NeedsPackages):
        packages = ("broken_widget_package",)

    part = Part()
    assert isinstance(part, env.MissingPackages)
    assert "broken_widget_package は入っていますが、読み込むとエラーになります（ModuleNotFoundError" in part.message
    assert "`pip install -U broken_widget_package`" in part.message


@pytest.mark.parametrize("fused, reads", [(False, 1), (True, 0)])
def test_grad_scaler_reads_the_host_each_step_unless_the_optimizer_is_fused(fused, reads):
    w = torch.ones(3, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=0.1, fused=fused)
    scaler = torch.amp.GradScaler("cpu")  # fit の混合精度と同じ手順（GPU の代わりに CPU で）
    scaler.scale(w.sum()).backward()
    counter = _count(lambda: (scaler.step(optimizer), scaler.update()))
    assert sum(counter.syncs.values()) == reads, counter.syncs
