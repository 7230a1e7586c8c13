"""MNIST の元ファイル（IDX 形式）を探し、検査し、必要ならダウンロードする。"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from course_utils.setup import env_flag

DATA_ENV = "COURSE_DATA_DIR"  # MNIST/raw/ を含むフォルダ
CACHE_ENV = "COURSE_CACHE_DIR"  # データと重みのキャッシュ置き場
OFFLINE_ENV = "COURSE_OFFLINE"  # 1 ならダウンロードせず、キャッシュにあるものだけを使う（教室向け）

# torchvision の最初のミラー（yann.lecun.com）は 403 などで失敗するため使わない。
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# ファイル名 → (gzip の MD5, マジックナンバー, 件数)。MD5 は配布元の gzip ファイルのもの。
FILES = {
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 2051, 60000),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", 2049, 60000),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", 2051, 10000),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", 2049, 10000),
}


class MNISTDataError(RuntimeError):
    """MNIST が見つからない・壊れている・ダウンロードできないときのエラー（日本語）。"""


def is_offline() -> bool:
    """オフラインの指定（環境変数 COURSE_OFFLINE=1）があれば True を返す。"""
    return env_flag(OFFLINE_ENV)


def cache_dir() -> Path:
    """データと重みを置くキャッシュフォルダ（COURSE_CACHE_DIR、既定は ~/.cache/dl-course-ja）。"""
    default = Path.home() / ".cache" / "dl-course-ja"
    return Path(os.environ.get(CACHE_ENV) or default).expanduser()


def _data_dir(given: str) -> Path:
    # 相対パスは、まず今のフォルダから、なければリポジトリの一番上から探す
    # （ノートブックは notebooks/ の中で動くので、README どおりの ../shared/data も通す）
    path = Path(given).expanduser()
    if not path.is_absolute() and not path.exists():
        from_repo = Path(__file__).resolve().parents[1] / path
        if from_repo.exists():
            return from_repo.resolve()
    return path.resolve()


def _expected_size(magic: int, count: int) -> int:
    # 画像: 16 バイトのヘッダ + 28*28 バイト/枚、ラベル: 8 バイトのヘッダ + 1 バイト/件
    return 16 + count * 28 * 28 if magic == 2051 else 8 + count


def check_idx_file(path: Path) -> str | None:
    """IDX ファイルを検査し、問題があれば日本語の説明を、なければ None を返す。"""
    _, magic, count = FILES[path.name]
    if not path.is_file():
        return "ファイルがありません"
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    header = np.frombuffer(head[:len(head) // 4 * 4], dtype=">i4")
    if len(header) < 2 or header[0] != magic:
        return "MNIST の IDX 形式ではありません（先頭のマジックナンバーが違います）"
    if header[1] != count:
        return f"件数が {count} ではなく {header[1]} です"
    if size != _expected_size(magic, count):
        return (f"大きさが {size:,} バイトで、期待される "
                f"{_expected_size(magic, count):,} バイトと違います（途中で切れています）")
    return None


def read_idx(path: Path) -> np.ndarray:
    """IDX ファイルを NumPy 配列（uint8）として読む。画像は (N, 28, 28)、ラベルは (N,)。"""
    _, magic, count = FILES[path.name]
    raw = np.fromfile(path, dtype=np.uint8)
    if magic == 2051:
        return raw[16:].reshape(count, 28, 28)
    return raw[8:]


def _problems(raw: Path) -> dict[str, str]:
    found = {name: check_idx_file(raw / name) for name in FILES}
    return {name: why for name, why in found.items() if why}


def _report(raw: Path, problems: dict[str, str], advice: str) -> MNISTDataError:
    lines = [f"MNIST のデータを使えません。探した場所: {raw}"]
    lines += [f"  - {name}: {why}" for name, why in problems.items()]
    lines += ["必要なファイル（gzip を展開したもの）: " + ", ".join(FILES), advice]
    return MNISTDataError("\n".join(lines))


def _download_one(name: str, raw: Path, timeout: float) -> None:
    md5 = FILES[name][0]
    errors = []
    for mirror in MIRRORS:
        url = mirror + name + ".gz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, \
                    tempfile.TemporaryFile() as tmp:
                total = int(response.headers.get("Content-Length") or 0)
                digest = hashlib.md5()
                with tqdm(total=total or None, unit="B", unit_scale=True,
                          desc=name, leave=False) as bar:
                    while chunk := response.read(1 << 16):
                        digest.update(chunk)
                        tmp.write(chunk)
                        bar.update(len(chunk))
                if digest.hexdigest() != md5:
                    errors.append(f"{url}: MD5 が一致しません（壊れたファイル）")
                    continue
                tmp.seek(0)
                part = raw / (name + ".part")
                with gzip.open(tmp) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                part.replace(raw / name)  # 展開が終わってから本来の名前にする
                return
        except (urllib.error.URLError, OSError, EOFError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
    raise MNISTDataError(
        f"{name} をダウンロードできませんでした。\n  " + "\n  ".join(errors)
    )


def mnist_root(download: bool | None = None, timeout: float = 30.0) -> Path:
    """MNIST/raw/ を含むフォルダを返す。見つからなければダウンロードを試みる。

    1. 環境変数 COURSE_DATA_DIR があれば、そこだけを使う（ダウンロードしない）。
       相対パスは今のフォルダ、次にリポジトリの一番上から探す。
    2. なければキャッシュフォルダを使い、足りないファイルをダウンロードする
       （download を省略すると、COURSE_OFFLINE=1 のときだけダウンロードせず、足りないものを日本語で伝える。
       講師用の prefetch は download=True で呼ぶ）。
    どちらもだめなら、何をすればよいかを日本語で説明する MNISTDataError を出す。
    """
    given = os.environ.get(DATA_ENV)
    if given:
        root = _data_dir(given)
        problems = _problems(root / "MNIST" / "raw")
        if problems:
            raise _report(
                root / "MNIST" / "raw", problems,
                f"{DATA_ENV} には MNIST/raw/ を含むフォルダを指定してください"
                f"（いまの値: {given}）。壊れたファイルは削除して置き直してください。"
                f"ダウンロードに任せるなら {DATA_ENV} を外してください。",
            )
        return root

    root = cache_dir() / "data"
    raw = root / "MNIST" / "raw"
    problems = _problems(raw)
    if download is None:
        download = not is_offline()
    if problems and not download and is_offline():
        raise _report(
            raw, problems,
            f"オフラインの指定（{OFFLINE_ENV}=1）があるのでダウンロードしません。講師の方は、ネットワークのある所で "
            f"`python -m course_utils.prefetch` を実行してこのキャッシュを用意するか、"
            f"{DATA_ENV} に MNIST/raw/ を含むフォルダを指定してください。",
        )
    if problems and download:
        raw.mkdir(parents=True, exist_ok=True)
        try:
            for name in problems:
                _download_one(name, raw, timeout)
        except MNISTDataError as e:
            raise _report(
                raw, problems,
                f"{e}\nネットワークに接続できるか確かめて再実行してください。"
                f"オフラインの場合は、MNIST/raw/ を含むフォルダを用意し、"
                f"環境変数 {DATA_ENV} にその場所を設定してください。"
                f"動作確認だけなら COURSE_QUICK=1（クイックモード）でも動きます。",
            ) from None
        problems = _problems(raw)
    if problems:
        raise _report(raw, problems,
                      "壊れたファイルを削除して、もう一度実行するとダウンロードし直します。")
    return root
