import errno
import gzip
import hashlib
import http.client
import http.server
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import datasets

from course_utils import mnist_files
from course_utils.mnist_files import MNISTDataError, check_idx_file, mnist_root, read_idx
from conftest import DATA_DIR, needs_full_mnist
from test_env import _failing_open, _Response, deny, fresh_warnings, no_network  # noqa: F401


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


# --- COURSE_DATA_DIR の置き間違い（無い・空・MNIST/raw そのもの など）と、読めないファイル ------------

def _data_dir_message(monkeypatch, given) -> str:
    monkeypatch.setenv("COURSE_DATA_DIR", str(given))
    monkeypatch.setattr(mnist_files.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("COURSE_DATA_DIR があるのに通信した"))
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    return str(info.value)


def test_missing_data_dir_says_so_without_talking_about_broken_files(tmp_path, monkeypatch):
    message = _data_dir_message(monkeypatch, tmp_path / "ない")
    assert f"COURSE_DATA_DIR={tmp_path / 'ない'} のフォルダがありません" in message
    assert "MNIST/raw/ を含むフォルダを指定してください" in message
    assert "COURSE_DATA_DIR を外してください" in message
    assert "削除" not in message and "壊れた" not in message


def test_relative_missing_data_dir_names_both_places_searched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = _data_dir_message(monkeypatch, "no-such-folder")
    assert f"今のフォルダ {tmp_path} からも" in message and "リポジトリの一番上" in message


def test_empty_data_dir(tmp_path, monkeypatch):
    message = _data_dir_message(monkeypatch, tmp_path)
    assert "のフォルダは空です" in message
    assert "t10k-images-idx3-ubyte: ファイルがありません" in message
    assert "削除" not in message and "壊れた" not in message


def test_data_dir_pointing_at_mnist_raw_itself_says_go_two_folders_up(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    fake_raw_folder(raw)
    message = _data_dir_message(monkeypatch, raw)
    assert "MNIST/raw のフォルダそのものを指しています" in message
    assert "2 つ上のフォルダ（MNIST/raw を含むフォルダ）を指定してください" in message
    assert f"COURSE_DATA_DIR={tmp_path}\n" in message
    assert str(raw / "MNIST" / "raw") not in message and "MNIST/raw/MNIST/raw" not in message
    assert "削除" not in message and "ファイルがありません" not in message


def test_data_dir_pointing_at_mnist_says_go_one_folder_up(tmp_path, monkeypatch):
    fake_raw_folder(tmp_path / "MNIST" / "raw")
    message = _data_dir_message(monkeypatch, tmp_path / "MNIST")
    assert "1 つ上のフォルダ（MNIST/raw を含むフォルダ）" in message and str(tmp_path) in message


def test_files_placed_directly_in_the_data_dir(tmp_path, monkeypatch):
    fake_raw_folder(tmp_path / "flat")
    message = _data_dir_message(monkeypatch, tmp_path / "flat")
    assert "MNIST のファイルが直接置かれています" in message and "MNIST/raw/ というフォルダを作って" in message


def test_gzip_files_that_were_not_unpacked(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist_files.FILES:
        (raw / (name + ".gz")).write_bytes(b"\x1f\x8b")
    message = _data_dir_message(monkeypatch, tmp_path)
    assert "gzip のまま（.gz）のファイルがあります。展開してください" in message
    assert "削除" not in message


def test_data_dir_that_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "mnist.zip").write_bytes(b"PK")
    message = _data_dir_message(monkeypatch, tmp_path / "mnist.zip")
    assert "はファイルです（フォルダではありません）" in message


def test_broken_file_in_data_dir_asks_to_replace_not_delete(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    fake_raw_folder(raw)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"broken")
    message = _data_dir_message(monkeypatch, tmp_path)
    assert "壊れたファイル（t10k-images-idx3-ubyte）を正しいファイルに置き換えてください" in message
    assert "削除" not in message
    assert "消したり書き換えたりしません" in message


def test_unreadable_file_in_data_dir(tmp_path, monkeypatch, deny):
    raw = tmp_path / "MNIST" / "raw"
    fake_raw_folder(raw)
    deny(raw / "train-images-idx3-ubyte", "read")
    message = _data_dir_message(monkeypatch, tmp_path)
    assert "train-images-idx3-ubyte: 読めません: 権限がありません" in message
    assert "読み取りの権限を付けてもらってください" in message
    assert "削除" not in message and "壊れた" not in message
    with pytest.raises(MNISTDataError, match="を読めません: 権限がありません"):
        read_idx(raw / "train-images-idx3-ubyte")


def test_unenterable_data_dir(tmp_path, monkeypatch, deny):
    fake_raw_folder(tmp_path / "locked" / "MNIST" / "raw")
    deny(tmp_path / "locked", "enter")
    message = _data_dir_message(monkeypatch, tmp_path / "locked")
    assert "権限がありません" in message and "削除" not in message


# --- キャッシュのフォルダ: ファイルを指している・読み取り専用・入れない ------------------------------

@pytest.fixture
def online_cache(tmp_path, monkeypatch):
    """COURSE_DATA_DIR なし、オンライン、通信したら失敗（フォルダの問題は通信の前に見つけるはず）。"""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(mnist_files.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("保存できないのに通信した"))
    return tmp_path


def test_cache_dir_pointing_at_a_file(online_cache, monkeypatch):
    afile = online_cache / "cache.txt"
    afile.write_text("x")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(afile))
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    message = str(info.value)
    assert "キャッシュのフォルダを使えません" in message and "はファイルです" in message
    assert "環境変数 COURSE_CACHE_DIR に、自分が書き込めるフォルダを指定してください" in message
    assert "ネットワーク" not in message
    assert afile.read_text() == "x"


def test_cache_dir_inside_a_read_only_folder(online_cache, monkeypatch, deny):
    readonly = online_cache / "ro"
    readonly.mkdir()
    deny(readonly, "write")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(readonly / "cache"))
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    message = str(info.value)
    assert "書き込む権限がありません" in message and "COURSE_CACHE_DIR" in message
    assert "ネットワーク" not in message


def test_unenterable_cache_offline_is_explained(online_cache, monkeypatch, deny):
    (online_cache / "locked").mkdir()
    deny(online_cache / "locked", "enter")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(online_cache / "locked" / "cache"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    assert "調べられません: 権限がありません" in str(info.value)


def test_read_only_shared_cache_works_offline(online_cache, monkeypatch, deny):
    fake_raw_folder(online_cache / "shared" / "data" / "MNIST" / "raw")
    deny(online_cache / "shared" / "data" / "MNIST" / "raw", "write")
    deny(online_cache / "shared", "write")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(online_cache / "shared"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert mnist_root() == online_cache / "shared" / "data"


def test_prefetch_with_an_unwritable_cache_reports_instead_of_crashing(online_cache, monkeypatch,
                                                                         deny, capsys):
    from course_utils.prefetch import prefetch

    (online_cache / "ro").mkdir()
    deny(online_cache / "ro", "write")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(online_cache / "ro" / "cache"))
    assert not prefetch(models=False)
    out = capsys.readouterr().out
    assert "✗ MNIST を用意できませんでした" in out and "書き込む権限がありません" in out


# --- ダウンロードの失敗: 空き容量・権限はネットワークのせいにしない、.part を残さない -------------------

@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "ディスクの空きが足りません"),
    (errno.EACCES, "権限がありません"),
])
def test_save_failure_is_not_blamed_on_the_network(mirror, monkeypatch, tmp_path, code, words):
    monkeypatch.setattr(mnist_files, "MIRRORS", (mirror,))
    monkeypatch.setattr(mnist_files, "open", _failing_open(code), raising=False)
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    message = str(info.value)
    assert words in message and "保存できませんでした" in message
    assert "COURSE_CACHE_DIR" in message
    assert "ネットワーク" not in message
    if code == errno.ENOSPC:
        assert "空きを作るか" in message
    raw = tmp_path / "cache" / "data" / "MNIST" / "raw"
    assert not list(raw.glob("*.part"))  # 書きかけの一時ファイルは消す
    assert not [p for p in raw.iterdir() if p.name in mnist_files.FILES]


def test_incomplete_read_is_caught_and_the_next_mirror_is_tried(mirror, monkeypatch):
    real_urlopen = urllib.request.urlopen

    def flaky(url, timeout=None):
        if url.startswith("http://flaky.invalid/"):
            return _Response(b"", fail_with=http.client.IncompleteRead(b"abc", 1000))
        return real_urlopen(url, timeout=timeout)

    monkeypatch.setattr(mnist_files.urllib.request, "urlopen", flaky)
    monkeypatch.setattr(mnist_files, "MIRRORS", ("http://flaky.invalid/", mirror))
    assert (mnist_root() / "MNIST" / "raw").is_dir()


@pytest.mark.parametrize("response", [
    lambda: _Response(b"", fail_with=http.client.IncompleteRead(b"abc", 1000)),
    lambda: _Response(b"abc", length=1000),  # urllib が黙って短く返す場合
])
def test_incomplete_read_gives_japanese_network_advice(tmp_path, monkeypatch, response):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(mnist_files.urllib.request, "urlopen", lambda url, timeout=None: response())
    with pytest.raises(MNISTDataError) as info:
        mnist_root()
    message = str(info.value)
    assert "受信が途中で切れました" in message and "ネットワークに接続できるか" in message
    assert "IncompleteRead(" not in message


def test_unknown_offline_value_stays_offline(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "2")
    with pytest.warns(UserWarning, match="COURSE_OFFLINE の値「2」"), \
            pytest.raises(MNISTDataError, match="COURSE_OFFLINE=2"):
        mnist_root()


# --- 教室の共有キャッシュ: 一時ファイルの片付けと、ほかのアカウントから使える権限 ------------------------

def test_abandoned_part_files_are_removed_and_nothing_else(tmp_path, monkeypatch):
    import os
    import time

    raw = tmp_path / "cache" / "data" / "MNIST" / "raw"
    fake_raw_folder(raw)
    old = time.time() - mnist_files.STALE_PART_SECONDS - 60
    names = {"abandoned": "train-images-idx3-ubyte.0a1b2c3d.part",  # 止められたダウンロードの残り
             "fresh": "t10k-images-idx3-ubyte.0a1b2c3e.part",  # ほかのアカウントがいま書いている
             "mine": "t10k-labels-idx1-ubyte.0a1b2c3f.part",  # このプロセスが書いている途中
             "user": "notes.0a1b2c3d.part", "not_hex": "train-images-idx3-ubyte.zzzzzzzz.part",
             "plain": "train-images-idx3-ubyte.part"}
    for key, name in names.items():
        (raw / name).write_bytes(b"x")
        if key != "fresh":
            os.utime(raw / name, (old, old))
    monkeypatch.setattr(mnist_files, "_writing", {raw / names["mine"]})
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert mnist_root() == tmp_path / "cache" / "data"  # 使うたびに片付ける（オフラインでも）
    assert not (raw / names["abandoned"]).exists()
    assert all((raw / name).exists() for key, name in names.items() if key != "abandoned")
    assert mnist_files.remove_abandoned_parts(tmp_path / "missing") == []


@pytest.fixture
def classroom(mirror, monkeypatch):
    """講師が作った共有フォルダ（グループ 4242 が書ける、setgid）をキャッシュにする。"""
    import os

    shared = Path(tempfile.mkdtemp(prefix="course-shared-"))  # pytest の tmp_path は本人しか入れない
    shared.chmod(0o2775)
    if os.geteuid() == 0:
        os.chown(shared, 0, 4242)
    monkeypatch.setattr(mnist_files, "MIRRORS", (mirror,))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(shared / "cache"))
    yield shared
    shutil.rmtree(shared)


def _umask(mask):
    import os

    old = os.umask(mask)
    return lambda: os.umask(old)


def test_a_download_into_a_shared_folder_leaves_group_usable_folders_and_files(classroom):
    import os
    import stat

    restore = _umask(0o077)  # いちばん閉じた umask の学生が、最初にダウンロードした
    try:
        raw = mnist_root() / "MNIST" / "raw"
    finally:
        restore()
    for folder in (classroom / "cache", classroom / "cache" / "data", raw.parent, raw):
        mode = stat.S_IMODE(folder.stat().st_mode)
        assert mode & 0o070 == 0o070 and mode & 0o007 == 0, oct(mode)  # グループだけに開く
    for name in mnist_files.FILES:
        assert (raw / name).stat().st_mode & stat.S_IRGRP
    if os.geteuid() == 0:
        assert {p.stat().st_gid for p in raw.parents if classroom in p.parents} == {4242}


def test_a_private_cache_follows_the_umask(mirror, monkeypatch, tmp_path):
    import stat

    monkeypatch.setattr(mnist_files, "MIRRORS", (mirror,))
    restore = _umask(0o022)
    try:
        raw = mnist_root() / "MNIST" / "raw"
    finally:
        restore()
    assert stat.S_IMODE(raw.stat().st_mode) == 0o755  # 個人のキャッシュはほかの人に書かせない


def _as_second_account(raw: Path) -> int:
    """別のアカウント（グループ 4242 の一員、uid 65534）として raw を読み、1 つを取り直す。0 なら成功。"""
    import os

    pid = os.fork()
    if pid == 0:  # 子プロセス: 講座のコードは使わず、ファイルの操作だけ
        code = 1
        try:
            os.setgroups([4242])
            os.setgid(4242)
            os.setuid(65534)
            os.umask(0o022)
            for name in os.listdir(raw):
                with open(raw / name, "rb") as f:
                    f.read(16)
            part = raw / "t10k-labels-idx1-ubyte.0a1b2c3d.part"
            with open(part, "xb") as f:  # 壊れたファイルを取り直すときと同じ: 書いてから置き換える
                f.write(b"new")
            os.replace(part, raw / "t10k-labels-idx1-ubyte")
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_second_account_can_read_and_repair_the_shared_cache(classroom):
    import os

    if os.geteuid() != 0:
        pytest.skip("別のアカウントになるには root が要ります（権限のビットは上のテストで確かめています）")
    restore = _umask(0o077)
    try:
        raw = mnist_root() / "MNIST" / "raw"
    finally:
        restore()
    assert _as_second_account(raw) == 0
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == b"new"
