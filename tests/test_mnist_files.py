import gzip
import hashlib
import http.server
import shutil
import tempfile
import threading
import urllib.error
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import datasets

from course_utils import mnist_files
from course_utils.mnist_files import MNISTDataError, check_idx_file, mnist_root, read_idx
from conftest import DATA_DIR, needs_full_mnist


def write_idx(path: Path, magic: int, count: int, value: int = 0) -> None:
    """検査を通る形の IDX ファイル（中身は一定値）を書く。"""
    header = np.array([magic, count] + ([28, 28] if magic == 2051 else []), dtype=">i4")
    body = np.full(count * (784 if magic == 2051 else 1), value, dtype=np.uint8)
    path.write_bytes(header.tobytes() + body.tobytes())


def fake_raw_folder(raw: Path) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for name, (_, magic, count) in mnist_files.FILES.items():
        write_idx(raw / name, magic, count, value=7)


def test_data_dir_without_files_names_folder_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "ファイルがありません" in message
    assert "COURSE_DATA_DIR" in message


def test_relative_data_dir_is_found_from_the_repository_root(monkeypatch, tmp_path):
    from conftest import ROOT

    fake = Path(tempfile.mkdtemp(dir=ROOT, prefix=".test-data-"))
    try:
        fake_raw_folder(fake / "MNIST" / "raw")
        monkeypatch.chdir(tmp_path)  # ノートブックのように別のフォルダから呼ぶ
        monkeypatch.setenv("COURSE_DATA_DIR", fake.name)
        assert mnist_root() == fake
    finally:
        shutil.rmtree(fake)


def test_valid_data_dir_is_used_without_download(tmp_path, monkeypatch):
    fake_raw_folder(tmp_path / "MNIST" / "raw")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(mnist_files.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("ダウンロードしてはいけない"))
    assert mnist_root() == tmp_path


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.write_bytes(p.read_bytes()[:-100]), "途中で切れています"),
    (lambda p: p.write_bytes(b"<html>403 Forbidden</html>" + bytes(100)), "IDX 形式ではありません"),
    (lambda p: p.write_bytes(b""), "IDX 形式ではありません"),
    (lambda p: p.write_bytes(b"broken"), "IDX 形式ではありません"),
])
def test_corrupt_or_truncated_file_is_reported(tmp_path, monkeypatch, damage, reason):
    raw = tmp_path / "MNIST" / "raw"
    fake_raw_folder(raw)
    damage(raw / "t10k-images-idx3-ubyte")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(MNISTDataError, match=reason) as info:
        mnist_root()
    assert "t10k-images-idx3-ubyte" in str(info.value)
    assert "train-images-idx3-ubyte:" not in str(info.value)  # 無事なファイルは挙げない


def test_wrong_count_is_reported(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    write_idx(path, 2049, 9999)
    assert "件数が 10000 ではなく 9999" in check_idx_file(path)


def test_no_network_gives_japanese_advice(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(mnist_files.urllib.request, "urlopen", offline)
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    message = str(info.value)
    assert "ダウンロードできませんでした" in message
    assert "ネットワーク" in message and "COURSE_DATA_DIR" in message
    assert str(tmp_path / "data" / "MNIST" / "raw") in message


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """127.0.0.1 で gzip した偽の MNIST を配るミラーを立て、その MD5 を登録する。"""
    served = tmp_path / "served"
    fake_raw_folder(served)
    files = {}
    for name, (_, magic, count) in mnist_files.FILES.items():
        packed = gzip.compress((served / name).read_bytes(), mtime=0)
        (served / (name + ".gz")).write_bytes(packed)
        files[name] = (hashlib.md5(packed).hexdigest(), magic, count)

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(mnist_files, "FILES", files)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_falls_back_to_next_mirror_and_checks_md5(mirror, monkeypatch, tmp_path):
    dead = "http://127.0.0.1:9/"  # discard ポート: 接続が拒否される
    monkeypatch.setattr(mnist_files, "MIRRORS", (dead, mirror))
    root = mnist_root()
    raw = root / "MNIST" / "raw"
    assert root == tmp_path / "cache" / "data"
    assert all(check_idx_file(raw / name) is None for name in mnist_files.FILES)
    assert read_idx(raw / "t10k-images-idx3-ubyte").shape == (10000, 28, 28)
    assert not list(raw.glob("*.part"))


def test_download_with_wrong_md5_is_refused(mirror, monkeypatch):
    monkeypatch.setattr(mnist_files, "MIRRORS", (mirror,))
    name = "train-labels-idx1-ubyte"
    _, magic, count = mnist_files.FILES[name]
    mnist_files.FILES[name] = ("0" * 32, magic, count)
    with pytest.raises(MNISTDataError, match="MD5 が一致しません"):
        mnist_root()


def test_corrupt_cached_file_is_downloaded_again(mirror, monkeypatch):
    monkeypatch.setattr(mnist_files, "MIRRORS", (mirror,))
    raw = mnist_root() / "MNIST" / "raw"
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"broken")
    mnist_root()
    assert check_idx_file(raw / "t10k-labels-idx1-ubyte") is None


@needs_full_mnist
def test_reader_matches_torchvision_on_real_mnist():
    raw = Path(DATA_DIR) / "MNIST" / "raw"
    reference = datasets.MNIST(DATA_DIR, train=False, download=False)
    assert torch.equal(torch.from_numpy(read_idx(raw / "t10k-images-idx3-ubyte").copy()),
                       reference.data)
    assert torch.equal(torch.from_numpy(read_idx(raw / "t10k-labels-idx1-ubyte").astype(np.int64)),
                       reference.targets)


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    assert mnist_files.cache_dir() == tmp_path
    monkeypatch.delenv("COURSE_CACHE_DIR")
    assert mnist_files.cache_dir() == Path.home() / ".cache" / "dl-course-ja"


def test_offline_switch_uses_only_the_cache_and_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(mnist_files.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("オフラインなのに通信した"))
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    message = str(info.value)
    assert "COURSE_OFFLINE=1" in message and "course_utils.prefetch" in message
    assert "t10k-images-idx3-ubyte" in message and str(tmp_path) in message


def test_prefetch_fills_the_cache_that_offline_mode_then_uses(mirror, monkeypatch, capsys):
    from course_utils.prefetch import prefetch

    monkeypatch.setattr(mnist_files, "MIRRORS", (mirror,))
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # 用意するときだけはダウンロードを許す
    assert prefetch(models=False)
    out = capsys.readouterr().out
    assert "✓ MNIST: 4 ファイル" in out
    assert mnist_files.os.environ["COURSE_OFFLINE"] == "1"  # 元に戻っている
    monkeypatch.setattr(mnist_files.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("キャッシュがあるのに通信した"))
    assert (mnist_root() / "MNIST" / "raw").is_dir()


def test_prefetch_reports_failure_in_japanese(tmp_path, monkeypatch, capsys):
    from course_utils.prefetch import prefetch

    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(mnist_files, "MIRRORS", ("http://127.0.0.1:9/",))
    assert not prefetch(models=False)
    assert "✗ MNIST を用意できませんでした" in capsys.readouterr().out
