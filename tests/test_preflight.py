"""講座を始める前の点検 preflight: 各点検が問題を見つけ、直し方を日本語で言うこと。"""

import http.server
import threading

import pytest

from course_utils import preflight as pf
from test_env import deny, fresh_warnings, no_network  # noqa: F401


@pytest.mark.parametrize("installed, level, words", [
    (None, "problem", "入っていません"),
    ("1.13.1", "problem", "古すぎます"),
    ("2.5.0+cu121", "ok", "2.5.0"),
    ("2.14.1+cu130", "ok", "2.14.1"),
    ("3.0.0", "warning", "より新しい版"),
])
def test_check_version(installed, level, words):
    finding = pf.check_version("torch", installed)
    assert finding.level == level and words in str(finding)
    if level == "problem":
        assert "pip install" in finding.fix


def test_check_disk(tmp_path):
    assert pf.check_disk(tmp_path / "まだない" / "cache", needed_gb=0.001).level == "ok"
    finding = pf.check_disk(tmp_path, needed_gb=1e9)
    assert finding.level == "problem" and "COURSE_CACHE_DIR" in finding.fix


def test_check_device_on_colab_without_gpu(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(pf, "in_colab", lambda: True)
    finding = pf.check_device()
    assert finding.level == "warning" and "T4 GPU" in finding.fix


def test_check_font_without_japanize(monkeypatch):
    monkeypatch.setattr(pf, "japanese_font_path", lambda: None)
    finding = pf.check_font()
    assert finding.level == "problem" and "japanize-matplotlib" in finding.fix


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(403 if self.path == "/forbidden" else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_check_url_against_a_local_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert pf.check_url("テスト", f"{base}/ok", "").level == "ok"
        assert pf.check_url("テスト", f"{base}/forbidden", "").level == "ok"  # 届いてはいる
    finally:
        server.shutdown()
    finding = pf.check_url("テスト", f"{base}/ok", "MNIST のダウンロードに要ります。", timeout=2)
    assert finding.level == "warning" and "接続できません" in finding.message


@pytest.mark.parametrize("flag", ["COURSE_QUICK", "COURSE_OFFLINE"])
def test_quick_and_offline_preflight_use_no_network(monkeypatch, capsys, no_network, flag):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv(flag, "1")
    findings = pf.preflight()
    assert any(f.topic == "ネットワーク" and "調べません" in f.message for f in findings)
    assert {f.topic for f in findings} >= {"python", "torch", "デバイス", "日本語フォント", "空き容量"}
    pf.report(findings)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(("✓", "△", "✗"))


def test_network_checks_skip_the_mirror_when_data_is_local(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", "/somewhere")
    seen = []
    monkeypatch.setattr(pf, "check_url", lambda topic, url, why, timeout=5.0:
                        seen.append(url) or pf.Finding("ok", topic, url))
    pf.preflight()
    assert seen == [pf.HUB_URL]


def test_report_counts_problems(capsys):
    pf.report([pf.Finding("ok", "a", "b"), pf.Finding("problem", "c", "d", "直し方")])
    out = capsys.readouterr().out
    assert "✗ c: d\n    → 直し方" in out and "直すべき問題が 1 件" in out


def test_setup_notebook_mentions_only_version_problems(monkeypatch, capsys):
    from course_utils.setup import setup_notebook

    setup_notebook()
    assert "✗" not in capsys.readouterr().out  # いまの環境に古すぎる版はない
    monkeypatch.setattr(pf, "_installed", lambda name: "1.0" if name == "torch" else
                        pf.TESTED[name][0])
    setup_notebook()
    out = capsys.readouterr().out
    assert "✗ torch: 1.0 は古すぎます" in out and "pip install -U torch" in out
    assert "✓" not in out  # 問題のないものは表示しない


# --- キャッシュのフォルダ --------------------------------------------------------------------------

def _cache_finding(findings):
    return next(f for f in findings if f.topic in {"キャッシュ", "空き容量"})


def test_unenterable_cache_is_reported_not_raised(tmp_path, monkeypatch, deny):
    (tmp_path / "locked").mkdir()
    deny(tmp_path / "locked", "enter")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "locked" / "cache"))
    finding = _cache_finding(pf.preflight(network=False))
    assert finding.level == "problem" and finding.topic == "キャッシュ"
    assert "調べられません: 権限がありません" in finding.message
    assert "環境変数 COURSE_CACHE_DIR に、自分が読み書きできるフォルダを指定してください" in finding.fix


def test_cache_pointing_at_a_file_is_a_problem(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "afile"))
    finding = pf.check_disk()
    assert finding.level == "problem" and "はファイルです（フォルダではありません）" in finding.message


@pytest.mark.parametrize("offline, level", [("0", "problem"), ("1", "ok")])
def test_read_only_cache_is_fine_only_offline(tmp_path, monkeypatch, deny, offline, level):
    (tmp_path / "shared").mkdir()
    deny(tmp_path / "shared", "write")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("COURSE_OFFLINE", offline)
    finding = pf.check_disk()
    assert finding.level == level
    assert ("書き込む権限がありません" if level == "problem" else "読み取りのみ") in finding.message


# --- COURSE_DATA_DIR ---------------------------------------------------------------------------

def _data_finding(monkeypatch, given):
    monkeypatch.setenv("COURSE_DATA_DIR", str(given))
    return next(f for f in pf.preflight(network=False) if f.topic == "MNIST のフォルダ")


def test_preflight_reports_a_missing_data_dir(tmp_path, monkeypatch):
    finding = _data_finding(monkeypatch, tmp_path / "ない")
    assert finding.level == "problem" and "のフォルダがありません" in finding.message
    assert "削除" not in str(finding)


def test_preflight_reports_an_empty_data_dir(tmp_path, monkeypatch):
    finding = _data_finding(monkeypatch, tmp_path)
    assert finding.level == "problem" and "のフォルダは空です" in finding.message


def test_preflight_reports_a_data_dir_pointing_at_mnist_raw(tmp_path, monkeypatch):
    from test_mnist_files import fake_raw_folder

    fake_raw_folder(tmp_path / "MNIST" / "raw")
    finding = _data_finding(monkeypatch, tmp_path / "MNIST" / "raw")
    assert finding.level == "problem" and "MNIST/raw のフォルダそのもの" in finding.message
    assert f"2 つ上のフォルダ（MNIST/raw を含むフォルダ）を指定してください: COURSE_DATA_DIR={tmp_path}" \
        in finding.fix
    assert _data_finding(monkeypatch, tmp_path).level == "ok"


def test_no_data_dir_no_data_finding(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert not [f for f in pf.preflight(network=False) if f.topic == "MNIST のフォルダ"]


# --- 環境変数と、点検そのものが失敗しないこと ------------------------------------------------------

def test_preflight_names_unknown_flag_values(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "１")  # 全角は分かる値
    monkeypatch.setenv("COURSE_OFFLINE", "2")
    findings = [f for f in pf.check_settings() if f.topic == "環境変数"]
    assert len(findings) == 1 and findings[0].level == "warning"
    assert "環境変数 COURSE_OFFLINE の値「2」は分かりません" in findings[0].message
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    (ok,) = pf.check_settings()
    assert ok.level == "ok" and "クイックモード オン" in ok.message and "オフライン オフ" in ok.message


def test_a_failing_check_becomes_a_warning(monkeypatch):
    def broken():
        raise RuntimeError("想定外")

    monkeypatch.setattr(pf, "check_font", broken)
    finding = next(f for f in pf.preflight(network=False) if f.topic == "日本語フォント")
    assert finding.level == "warning" and "点検の途中でエラーになりました" in finding.message
