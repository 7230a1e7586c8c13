"""講座を始める前の点検 preflight: 各点検が問題を見つけ、直し方を日本語で言うこと。"""

import http.server
import threading
import urllib.request

import pytest

from course_utils import preflight as pf


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


def test_quick_mode_preflight_uses_no_network(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("クイックモードで通信してはいけない"))
    findings = pf.preflight()
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
