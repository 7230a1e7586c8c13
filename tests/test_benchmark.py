"""scripts/benchmark.py（全ノートブックの実測）と course_utils.results の検査。"""

import argparse
import json
import math
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT
from course_utils.results import RESULTS_ENV, read_results, record_result
from scripts import benchmark


def test_record_result_prints_and_appends(monkeypatch, tmp_path, capsys):
    path = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS_ENV, str(path))
    record_result("test_acc", 0.9912, "テスト正解率")
    record_result("latency_ms", 12.5, "1 枚あたりの時間 [ms]", percent=False)
    record_result("test_acc", 0.9934, "テスト正解率")  # 同じ名前は後の値が残る
    out = capsys.readouterr().out
    assert "記録: テスト正解率 = 99.12%" in out and "= 12.5" in out
    results = read_results(path)
    assert results["test_acc"]["value"] == pytest.approx(0.9934)
    assert results["latency_ms"]["percent"] is False


def test_record_result_without_file_only_prints(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    record_result("test_acc", 0.5, "正解率")
    assert "50.00%" in capsys.readouterr().out
    assert read_results(tmp_path / "none.jsonl") == {}


def test_record_result_rejects_nan():
    with pytest.raises(ValueError, match="数ではありません"):
        record_result("test_acc", math.nan, "正解率")


def _run(notebook, acc, wall_s, kind="cpu", status="ok"):
    metrics = {} if acc is None else {
        "test_acc": {"metric": "test_acc", "value": acc, "label": "正解率", "percent": True}}
    return {"notebook": notebook, "status": status, "detail": "", "wall_s": wall_s,
            "metrics": metrics, "device_kind": kind, "device": f"{kind} の名前",
            "torch": "2.x", "python": "3.x", "date": "2026-11-23T10:00:00+00:00"}


@pytest.mark.parametrize("acc, wall_s, mark", [
    (0.9931, 200.0, "99.31%、3.3 分 ✓"),
    (0.9900, 200.0, "99.00%、3.3 分 ✗"),   # 正解率が目標 99.2 % に届かない
    (0.9931, 400.0, "99.31%、6.7 分 ✗"),   # CPU の上限 6 分を超える
])
def test_table_marks_each_target(acc, wall_s, mark):
    table = benchmark.results_table({"notebooks": [_run("04_cnn", acc, wall_s)]})
    assert f"| ≥ 99.2%、CPU ≤ 6.0 分、GPU ≤ 60 秒 | {mark} |" in table


def test_table_has_a_column_per_device_kind_and_marks_failures():
    runs = [_run("04_cnn", 0.993, 50.0, kind="gpu"), _run("04_cnn", 0.993, 300.0),
            _run("05_four_vs_nine", None, 700.0, status="timeout")]
    table = benchmark.results_table({"notebooks": runs})
    assert "| ノートブック | 目標 | CPU: 正解率、時間 | GPU: 正解率、時間 |" in table
    assert "| 99.30%、5.0 分 ✓ | 99.30%、50 秒 ✓ |" in table
    assert "時間切れ（11.7 分で停止）✗ | 未測定 |" in table


def _metric(name, value, percent=False):
    return {name: {"metric": name, "value": value, "label": name, "percent": percent}}


def test_07_is_marked_by_top5_and_unverified_without_weights():
    latency = {**_metric("latency_ms_ResNet-18", 16.2), **_metric("latency_ms_EVA-02-L", 4255.3)}
    without = _run("07_pretrained_models", None, 125.0)
    without["metrics"] = latency
    table = benchmark.results_table({"notebooks": [without]})
    assert "| サンプル写真で top-5 が妥当 100%、CPU ≤ 10.0 分、GPU ≤ 3.0 分 |" in table
    assert "学習済みの重みを読めず、top-5 は未確認、2.1 分 ✗" in table
    assert "| モデル | CPU |" in table
    assert "| ResNet-18 | 16.2 ms |" in table and "| EVA-02-L | 4,255.3 ms |" in table
    assert "（ランダム）" not in table  # 記録の名前に「ランダム」がなければ付けない

    with_weights = _run("07_pretrained_models", None, 125.0, kind="gpu")
    with_weights["metrics"] = {**latency, **_metric("top5_ok", 1.0, True)}
    assert "top-5 が妥当 100%、2.1 分 ✓" in benchmark.results_table({"notebooks": [with_weights]})
    with_weights["metrics"] = {**latency, **_metric("top5_ok", 26 / 27, True)}
    assert "top-5 が妥当 96%、2.1 分 ✗" in benchmark.results_table({"notebooks": [with_weights]})


def test_07_latency_marks_each_model_measured_with_random_weights():
    run = _run("07_pretrained_models", None, 125.0)
    run["metrics"] = {**_metric("latency_ms_EfficientNet-Lite0", 30.1), **_metric("latency_ms_ResNet-18", 16.2),
                      **_metric("top5_ok", 1.0, True)}
    run["metrics"]["latency_ms_ResNet-18"]["label"] = "ResNet-18 の 1 枚の時間 [ms]（ランダムな重み）"
    table = benchmark.results_table({"notebooks": [run]})
    assert "| EfficientNet-Lite0 | 30.1 ms |" in table
    assert "| ResNet-18 | 16.2 ms（ランダム） |" in table
    assert "ランダムな重みで測った値です" in table


def test_merge_replaces_only_the_same_kind_and_notebook():
    old = {"notebooks": [_run("04_cnn", 0.99, 300.0), _run("04_cnn", 0.99, 50.0, "gpu"),
                         _run("03_mlp", 0.98, 100.0)], "loaders": []}
    info = {"device_kind": "cpu", "device": "新しい CPU", "torch": "2.y", "python": "3.y",
            "date": "2026-11-24T10:00:00+00:00"}
    new = {k: v for k, v in _run("04_cnn", 0.995, 250.0).items()
           if k not in info}
    merged = benchmark.merge(old, [new], [], info)
    kept = {(r["notebook"], r["device_kind"]): r["wall_s"] for r in merged["notebooks"]}
    assert kept == {("03_mlp", "cpu"): 100.0, ("04_cnn", "cpu"): 250.0,
                    ("04_cnn", "gpu"): 50.0}


def test_quick_mode_refuses_to_write_the_real_results():
    with pytest.raises(SystemExit):
        benchmark.main(["01", "--quick"])


def test_another_seed_refuses_to_write_the_real_results_and_is_passed_on(monkeypatch):
    with pytest.raises(SystemExit):
        benchmark.main(["01", "--seed", "1"])
    parser = argparse.ArgumentParser()
    benchmark.add_run_arguments(parser, default_timeout=60)
    args = parser.parse_args(["05", "--seed", "2", "--results", "/tmp/r.json"])
    assert benchmark.run_arguments(args)[-2:] == ["--seed", "2"]
    assert "--seed" not in benchmark.run_arguments(parser.parse_args(["05"]))


def test_the_seed_setting_reaches_the_notebooks(monkeypatch):
    from course_utils.env import SEED_ENV, CourseSettingWarning, course_seed
    monkeypatch.delenv(SEED_ENV, raising=False)
    assert course_seed() == 0
    monkeypatch.setenv(SEED_ENV, " ２ ")  # 全角でも読める
    assert course_seed() == 2
    monkeypatch.setenv(SEED_ENV, "one")
    with pytest.warns(CourseSettingWarning, match="整数"):
        assert course_seed() == 0


def _script(tmp_path, *args):
    readme = tmp_path / "README.md"
    if not readme.exists():
        readme.write_text("前\n<!-- results-table -->\n<!-- /results-table -->\n後\n")
    command = [sys.executable, str(ROOT / "scripts" / "benchmark.py"), *args, "--quick",
               "--results", str(tmp_path / "results.json"), "--readme", str(readme),
               "--build", str(tmp_path / "build")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    results = json.loads((tmp_path / "results.json").read_text())
    return done, results, readme.read_text()


def test_script_runs_a_notebook_and_writes_consistent_json_and_table(tmp_path):
    done, results, readme = _script(tmp_path, "01")
    assert done.returncode == 0, done.stderr[-2000:]
    [run] = results["notebooks"]
    assert run["notebook"] == "01_softmax_regression" and run["status"] == "ok"
    assert run["mode"] == "quick" and run["wall_s"] > 0 and run["date"]
    import torch
    assert run["torch"] == torch.__version__ and run["device"]
    acc = run["metrics"]["test_acc"]["value"]
    assert 0.0 < acc <= 1.0
    # 表の数字は JSON の数字から作られている
    assert readme.startswith("前\n") and readme.endswith("後\n")
    assert f"| {acc:.2%}、{run['wall_s']:.0f} 秒 " in readme
    assert {row["model"] for row in results["loaders"]} == {"softmax", "cnn"}
    for row in results["loaders"]:
        assert row["ratio"] == pytest.approx(row["dataloader_s"] / row["fastloader_s"], rel=0.1)
        assert f"{row['dataloader_s']:.2f} 秒" in readme
    executed = nbformat.read(tmp_path / "build" / "01_softmax_regression.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells if cell.cell_type == "code")


def test_script_stops_a_notebook_at_its_time_limit(tmp_path):
    done, results, readme = _script(tmp_path, "04", "--timeout", "2", "--no-loaders")
    assert done.returncode == 1
    [run] = results["notebooks"]
    assert run["status"] == "timeout" and run["metrics"] == {}
    assert "時間切れ" in readme and "✗" in readme


def test_table_sums_each_device_and_marks_gpu_runs_slower_than_the_cpu():
    runs = [_run("00_setup", None, 7.0), _run("00_setup", None, 10.0, kind="gpu"),
            _run("04_cnn", 0.993, 300.0), _run("04_cnn", 0.993, 50.0, kind="gpu")]
    table = benchmark.results_table({"notebooks": runs})
    assert "| 7 秒 ✓ | 10 秒、CPU より遅い ✗ |" in table
    assert "| 合計 | GPU ≤ 3.0 分、どのノートブックも GPU で CPU 以下の時間 | 5.1 分 | 60 秒 ✗ |" in table
    runs[1] = _run("00_setup", None, 6.0, kind="gpu")  # どれも CPU より速く、合計も 3 分以内
    assert "| 5.1 分 | 56 秒 ✓ |" in benchmark.results_table({"notebooks": runs})
    only_cpu = benchmark.results_table({"notebooks": runs + [_run("05_four_vs_nine", 0.995, 20.0)]})
    assert "| 5.5 分 | 56 秒（2 冊） ✗ |" in only_cpu  # GPU の記録がないノートブックがある


def test_merge_keeps_the_step_profiles():
    profiles = [{"device_kind": "cpu", "workload": "03"}]
    merged = benchmark.merge({"notebooks": [], "profiles": profiles}, [_run("04_cnn", 0.99, 300.0)],
                             [], {"device_kind": "cpu"})
    assert merged["profiles"] == profiles
