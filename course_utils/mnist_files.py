"""MNIST の元ファイル（IDX 形式）を探し、検査し、必要ならダウンロードする。

講座の約束: 利用者のファイル（COURSE_DATA_DIR の中身、キャッシュに置かれた講座以外のもの）は、
どの失敗のときも消したり書き換えたりしない。書くのは、キャッシュの MNIST/raw/ の 4 つのファイル
（FILES の名前）と、書いている途中の一時ファイル（<名前>.<乱数>.part、失敗したら消す）だけ。
止められた（カーネルの再起動など）ダウンロードが残した一時ファイルは、古くなってから消す。
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import http.client
import io
import os
import re
import stat
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np

# 環境変数の名前とフォルダの場所は course_utils.env にある（ここからも import できるように残す）
from course_utils.env import (CACHE_ENV, DATA_ENV, NO_SPACE, OFFLINE_ENV, REPO_ROOT,
                              cache_dir, cache_setting, data_dir_setting, flag_text,
                              folder_problem, group_shared, is_offline, make_folder,
                              os_error_reason, progress_bar_class,
                              resolve_data_dir)

tqdm = progress_bar_class()

__all__ = ["CACHE_ENV", "DATA_ENV", "FILES", "MIRRORS", "MNISTDataError", "OFFLINE_ENV",
           "cache_dir", "check_idx_file", "data_dir_problem", "is_offline", "mnist_root", "read_idx"]

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
MNIST_MB = 55  # 展開した 4 つのファイルの合計（約 55 MB）
STALE_PART_SECONDS = 6 * 3600  # これより古い一時ファイルは、止められたダウンロードの残り
_writing: set[Path] = set()  # このプロセスがいま書いている一時ファイル（消さない）

_data_dir = resolve_data_dir  # 以前の名前


class MNISTDataError(RuntimeError):
    """MNIST が見つからない・壊れている・ダウンロードできないときのエラー（日本語）。"""


class _SaveError(Exception):
    """ダウンロードしたものを手元に保存できなかった（権限・空き容量など。通信の問題ではない）。

    OSError を継がないので、通信の失敗をまとめて捕まえる except に紛れない。
    """

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"{path}: {error}")
        self.path, self.error = path, error


def _expected_size(magic: int, count: int) -> int:
    # 画像: 16 バイトのヘッダ + 28*28 バイト/枚、ラベル: 8 バイトのヘッダ + 1 バイト/件
    return 16 + count * 28 * 28 if magic == 2051 else 8 + count


def _check(path: Path) -> tuple[str, str] | None:
    """(種類, 説明) を返す。種類は missing（無い）・unreadable（読めない）・broken（中身が違う）。"""
    _, magic, count = FILES[path.name]
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", "ファイルがありません"
    except OSError as error:  # 入る権限のないフォルダの中など
        return "unreadable", f"調べられません: {os_error_reason(error)}"
    if stat.S_ISDIR(info.st_mode):
        return "broken", "ファイルではなくフォルダです"
    if not stat.S_ISREG(info.st_mode):  # FIFO などは開くと止まることがあるので、読まない
        return "broken", "普通のファイルではありません"
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as error:
        return "unreadable", f"読めません: {os_error_reason(error)}"
    header = np.frombuffer(head[:len(head) // 4 * 4], dtype=">i4")
    if len(header) < 2 or header[0] != magic:
        return "broken", "MNIST の IDX 形式ではありません（先頭のマジックナンバーが違います）"
    if header[1] != count:
        return "broken", f"件数が {count} ではなく {header[1]} です"
    size = info.st_size
    if size != _expected_size(magic, count):
        return "broken", (f"大きさが {size:,} バイトで、期待される "
                          f"{_expected_size(magic, count):,} バイトと違います（途中で切れています）")
    return None


def check_idx_file(path: Path) -> str | None:
    """IDX ファイルを検査し、問題があれば日本語の説明を、なければ None を返す（例外は出さない）。"""
    found = _check(Path(path))
    return None if found is None else found[1]


def read_idx(path: Path) -> np.ndarray:
    """IDX ファイルを NumPy 配列（uint8）として読む。画像は (N, 28, 28)、ラベルは (N,)。

    読めないときは、理由と直し方を日本語で言う MNISTDataError を出す。
    """
    path = Path(path)
    _, magic, count = FILES[path.name]
    try:
        with open(path, "rb") as f:
            raw = np.fromfile(f, dtype=np.uint8)
    except OSError as error:
        raise MNISTDataError(
            f"MNIST のファイル {path} を読めません: {os_error_reason(error)}。\n"
            + _unreadable_fix([path.name], path.parent)) from None
    if raw.size != _expected_size(magic, count):
        raise MNISTDataError(f"MNIST のファイル {path} の大きさが {raw.size:,} バイトで、期待される "
                             f"{_expected_size(magic, count):,} バイトと違います（途中で切れています）。")
    if magic == 2051:
        return raw[16:].reshape(count, 28, 28)
    return raw[8:]


def _problem_kinds(raw: Path) -> dict[str, tuple[str, str]]:
    found = {name: _check(raw / name) for name in FILES}
    return {name: why for name, why in found.items() if why}


def _problems(raw: Path) -> dict[str, str]:
    return {name: why for name, (_, why) in _problem_kinds(raw).items()}


def _names(problems: dict[str, tuple[str, str]], kind: str) -> list[str]:
    return [name for name, (k, _) in problems.items() if k == kind]


def _unreadable_fix(names: list[str], folder: Path) -> str:
    return (f"→ {folder} の {'、'.join(names)} を読む権限がありません。ファイルの持ち主か管理者に、"
            f"読み取りの権限を付けてもらってください（例: chmod a+r）。")


def _report(raw: Path, problems: dict[str, str], advice: str) -> MNISTDataError:
    lines = [f"MNIST のデータを使えません。探した場所: {raw}"]
    lines += [f"  - {name}: {why}" for name, why in problems.items()]
    lines += ["必要なファイル（gzip を展開したもの）: " + ", ".join(FILES), advice]
    return MNISTDataError("\n".join(lines))


# --- COURSE_DATA_DIR -------------------------------------------------------------------------

def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _has_mnist_files(folder: Path) -> bool:
    return any(_is_file(folder / name) or _is_file(folder / (name + ".gz")) for name in FILES)


def data_dir_problem(given: str) -> tuple[str, str] | None:
    """COURSE_DATA_DIR（値 given）を調べ、問題があれば (何が悪いか, 直し方) を日本語で返す。

    無い・ファイルを指している・空・MNIST/raw そのものや MNIST を指している・ファイルが直接置かれている・
    gzip のまま・壊れている・読めない、を見分ける。問題がなければ None。何も書き換えない。
    """
    root = resolve_data_dir(given)
    raw = root / "MNIST" / "raw"
    shown = f"{DATA_ENV}={given.strip()}" + ("" if str(root) == given.strip() else f"（{root}）")
    give_up = (f"ダウンロードに任せるなら {DATA_ENV} を外してください"
               f"（キャッシュ {cache_dir() / 'data'} に自動で用意します）。")
    contain = f"{DATA_ENV} には、MNIST/raw/ を含むフォルダを指定してください"
    try:
        info = os.stat(root)
    except (FileNotFoundError, NotADirectoryError):
        where = ""
        if not Path(given.strip()).expanduser().is_absolute():
            where = f"（今のフォルダ {Path.cwd()} からも、リポジトリの一番上 {REPO_ROOT} からも探しました）"
        return (f"{shown} のフォルダがありません{where}。",
                f"{contain}（例: {DATA_ENV}=~/mnist なら ~/mnist/MNIST/raw/ に 4 つのファイルを置きます）。"
                f"場所の打ち間違いがないかも確かめてください。{give_up}")
    except OSError as error:
        return (f"{shown} のフォルダを調べられません: {os_error_reason(error)}。",
                f"自分が読めるフォルダを指定するか、フォルダの持ち主か管理者に読み取りの権限を"
                f"付けてもらってください。{give_up}")
    if not stat.S_ISDIR(info.st_mode):
        return (f"{shown} はファイルです（フォルダではありません）。", f"{contain}。{give_up}")

    problems = _problem_kinds(raw)
    if not problems:
        return None
    # よくある置き間違い: 1 つ・2 つ下のフォルダを指している、ファイルを直接置いている
    if root.name.lower() == "raw" and root.parent.name.lower() == "mnist":
        return (f"{shown} は MNIST/raw のフォルダそのものを指しています"
                "（講座は指定されたフォルダの中にさらに MNIST/raw/ を探すので、見つかりません）。",
                f"{DATA_ENV} には 2 つ上のフォルダ（MNIST/raw を含むフォルダ）を指定してください: "
                f"{DATA_ENV}={root.parents[1]}")
    if root.name.lower() == "mnist" and _has_mnist_files(root / "raw"):
        return (f"{shown} は MNIST のフォルダそのものを指しています（講座は {raw} を探します）。",
                f"{DATA_ENV} には 1 つ上のフォルダ（MNIST/raw を含むフォルダ）を指定してください: "
                f"{DATA_ENV}={root.parent}")
    if _has_mnist_files(root):
        return (f"{shown} の中に MNIST のファイルが直接置かれています（講座は {raw} の中を探します）。",
                f"{root} の中に MNIST/raw/ というフォルダを作ってファイルをそこへ移すか、"
                f"MNIST/raw/ の形に置いたフォルダを {DATA_ENV} に指定してください。")
    try:
        empty = not os.listdir(root)
    except OSError as error:
        return (f"{shown} のフォルダの中を見られません: {os_error_reason(error)}。",
                f"自分が読めるフォルダを指定してください。{give_up}")
    lines = [f"{shown} のフォルダは空です。" if empty else f"{shown} に MNIST がそろっていません。",
             f"探した場所: {raw}"]
    lines += [f"  - {name}: {why}" for name, (_, why) in problems.items()]
    lines.append("必要なファイル（gzip を展開したもの）: " + ", ".join(FILES))
    fixes = []
    missing, broken, unreadable = (_names(problems, kind) for kind in ("missing", "broken", "unreadable"))
    packed = [name for name in missing if _is_file(raw / (name + ".gz"))]
    if packed:
        fixes.append(f"gzip のまま（.gz）のファイルがあります。展開してください（例: gunzip -k {raw}/*.gz）。")
    if broken:
        fixes.append(f"壊れたファイル（{'、'.join(broken)}）を正しいファイルに置き換えてください。")
    if unreadable:
        fixes.append(_unreadable_fix(unreadable, raw).removeprefix("→ "))
    if [name for name in missing if name not in packed]:
        fixes.append(f"{contain}（{raw} に 4 つのファイルを置きます）。")
    fixes.append(give_up)
    return "\n".join(lines), "".join(fixes)


def _data_dir_error(problem: tuple[str, str]) -> MNISTDataError:
    what, fix = problem
    return MNISTDataError(f"MNIST のデータを使えません。{what}\n→ {fix}\n"
                          "（講座は、このフォルダのファイルを消したり書き換えたりしません）")


# --- ダウンロード ------------------------------------------------------------------------------

def _network_reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, http.client.IncompleteRead):
        return f"受信が途中で切れました（{len(error.partial):,} バイトを受け取ったところで）"
    if isinstance(error, urllib.error.HTTPError):
        return f"サーバーがエラーを返しました（HTTP {error.code}）"
    if isinstance(error, urllib.error.URLError):
        if isinstance(error.reason, TimeoutError):
            return f"{timeout:g} 秒待っても応答がありません（時間切れ）"
        return f"接続できません（{error.reason}）"
    if isinstance(error, TimeoutError):
        return f"{timeout:g} 秒待っても応答がありません（時間切れ）"
    if isinstance(error, http.client.HTTPException):
        return f"サーバーの応答が正しくありません（{type(error).__name__}: {error}）"
    if isinstance(error, ConnectionError):
        return f"接続が切れました（{type(error).__name__}: {error}）"
    return f"{type(error).__name__}: {error}"


def _fetch(url: str, name: str, timeout: float) -> bytes:
    """url を読み、中身を返す（gzip のまま、最大 10 MB ほどなのでメモリに置く）。"""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        try:
            total = int(response.headers.get("Content-Length") or 0)
        except ValueError:
            total = 0
        buffer = io.BytesIO()
        with tqdm(total=total or None, unit="B", unit_scale=True, desc=name, leave=False) as bar:
            while chunk := response.read(1 << 16):
                buffer.write(chunk)
                bar.update(len(chunk))
    if total and buffer.tell() < total:  # urllib は、途中で切れても黙って短く返すことがある
        raise http.client.IncompleteRead(buffer.getvalue(), total - buffer.tell())
    return buffer.getvalue()


def _save(name: str, data: bytes, raw: Path) -> None:
    """data を raw/name に書く。途中で失敗したら、書きかけの一時ファイルを消して _SaveError を出す。"""
    part = raw / f"{name}.{uuid.uuid4().hex[:8]}.part"  # 講座だけが作る名前（利用者のファイルと重ならない）
    _writing.add(part)
    try:
        with open(part, "xb") as f:
            f.write(data)
        if group_shared(raw):  # 共有キャッシュ: umask が 077 のアカウントが書いても、グループで読める
            os.chmod(part, stat.S_IMODE(os.stat(part).st_mode) | stat.S_IRGRP)
        os.replace(part, raw / name)  # 書き終わってから本来の名前にする
    except OSError as error:
        raise _SaveError(raw / name, error) from None
    finally:
        _writing.discard(part)
        try:
            os.unlink(part)  # 成功して名前を変えたあとなら、もう無い
        except OSError:
            pass


def remove_abandoned_parts(raw: Path, now: float | None = None) -> list[Path]:
    """止められたダウンロードが raw に残した一時ファイル（<名前>.<16 進 8 桁>.part）を消し、一覧を返す。

    講座が作る名前で、STALE_PART_SECONDS より古く、このプロセスが書いている途中でないものだけ。
    書き込みは一度に済むので、数時間前の一時ファイルを書いているダウンロードはない。
    """
    pattern = re.compile("(" + "|".join(map(re.escape, FILES)) + r")\.[0-9a-f]{8}\.part")
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(raw.iterdir())
    except OSError:  # フォルダがない・見られない: 消すものもない
        return removed
    for path in entries:
        if not pattern.fullmatch(path.name) or path in _writing:
            continue
        with contextlib.suppress(OSError):  # 同時にほかのアカウントが消した、権限がない、など
            info = path.lstat()  # リンクはたどらない（講座が作るのはふつうのファイルだけ）
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_PART_SECONDS:
                path.unlink()
                removed.append(path)
    return removed


def _download_one(name: str, raw: Path, timeout: float) -> None:
    md5 = FILES[name][0]
    errors = []
    for mirror in MIRRORS:
        url = mirror + name + ".gz"
        try:
            packed = _fetch(url, name, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError, EOFError,
                ValueError) as error:  # 通信の失敗（書き込みはまだしていない）
            errors.append(f"{url}: {_network_reason(error, timeout)}")
            continue
        if hashlib.md5(packed).hexdigest() != md5:
            errors.append(f"{url}: MD5 が一致しません（壊れたファイル）")
            continue
        try:
            data = gzip.decompress(packed)
        except (OSError, EOFError) as error:
            errors.append(f"{url}: gzip を展開できません（{type(error).__name__}）")
            continue
        _save(name, data, raw)
        return
    raise MNISTDataError(
        f"{name} をダウンロードできませんでした。\n  " + "\n  ".join(errors)
    )


def _cache_fix(reason_code: int | None) -> str:
    if reason_code in NO_SPACE:
        return (f"不要なファイルを消してディスクの空きを作るか、環境変数 {CACHE_ENV} に空きのある"
                f"ディスクのフォルダを指定してください（MNIST には展開後で約 {MNIST_MB} MB 要ります。"
                f"{cache_setting()}）。")
    return (f"環境変数 {CACHE_ENV} に、自分が書き込めるフォルダを指定してください"
            f"（例: {CACHE_ENV}=~/dl-course-cache。{cache_setting()}）。"
            f"または MNIST/raw/ を含むフォルダを用意して、環境変数 {DATA_ENV} にその場所を設定してください。")


def _save_advice(error: _SaveError) -> str:
    code = getattr(error.error, "errno", None)
    return (f"ダウンロードしたファイルを {error.path} に保存できませんでした: "
            f"{os_error_reason(error.error)}。（ダウンロードそのものはできています）\n"
            f"→ {_cache_fix(code)}")


def mnist_root(download: bool | None = None, timeout: float = 30.0) -> Path:
    """MNIST/raw/ を含むフォルダを返す。見つからなければダウンロードを試みる。

    1. 環境変数 COURSE_DATA_DIR があれば、そこだけを使う（ダウンロードしない）。
       相対パスは今のフォルダ、次にリポジトリの一番上から探す。
    2. なければキャッシュフォルダを使い、足りないファイルをダウンロードする
       （download を省略すると、COURSE_OFFLINE=1 のときだけダウンロードせず、足りないものを日本語で伝える。
       講師用の prefetch は download=True で呼ぶ）。
    どちらもだめなら、何をすればよいかを日本語で説明する MNISTDataError を出す。
    利用者のファイルは、どの失敗のときも消したり書き換えたりしない。
    """
    given = data_dir_setting()
    if given is not None:
        problem = data_dir_problem(given)
        if problem:
            raise _data_dir_error(problem)
        return resolve_data_dir(given)

    root = cache_dir() / "data"
    raw = root / "MNIST" / "raw"
    remove_abandoned_parts(raw)
    problems = _problem_kinds(raw)
    if not problems:
        return root
    listed = {name: why for name, (_, why) in problems.items()}
    unreadable = _names(problems, "unreadable")
    offline = is_offline()
    if download is None:
        download = not offline
    if not download and offline:
        extra = "" if not unreadable else "\n" + _unreadable_fix(unreadable, raw)
        raise _report(
            raw, listed,
            f"オフラインの指定（{flag_text(OFFLINE_ENV)}）があるのでダウンロードしません。講師の方は、"
            f"ネットワークのある所で `python -m course_utils.prefetch` を実行してこのキャッシュを用意するか、"
            f"{DATA_ENV} に MNIST/raw/ を含むフォルダを指定してください。{extra}",
        )
    if download:
        trouble = folder_problem(raw)
        if trouble is None:
            try:
                make_folder(raw)
            except OSError as error:
                trouble = f"{raw} を作れません: {os_error_reason(error)}"
        if trouble is not None:  # ファイルの一覧より先に、本当の理由（フォルダが使えない）を言う
            raise MNISTDataError(f"MNIST のデータを使えません。キャッシュのフォルダを使えません: {trouble}。\n"
                                 f"→ {_cache_fix(None)}")
        try:
            for name in problems:
                _download_one(name, raw, timeout)
        except _SaveError as error:  # 権限・空き容量: 通信の問題ではない
            raise _report(raw, listed, _save_advice(error)) from None
        except MNISTDataError as error:
            raise _report(
                raw, listed,
                f"{error}\nネットワークに接続できるか確かめて再実行してください。"
                f"オフラインの場合は、MNIST/raw/ を含むフォルダを用意し、"
                f"環境変数 {DATA_ENV} にその場所を設定してください。"
                f"動作確認だけなら COURSE_QUICK=1（クイックモード）でも動きます。",
            ) from None
        problems = _problem_kinds(raw)
        listed = {name: why for name, (_, why) in problems.items()}
        unreadable = _names(problems, "unreadable")
    if problems:
        advice = []
        if _names(problems, "missing") or _names(problems, "broken"):
            advice.append("download=True で呼ぶと、足りないファイルと壊れたファイルをダウンロードし直します"
                          "（キャッシュのファイルは講座が作ったものです）。")
        if unreadable:
            advice.append(f"→ キャッシュのファイルを読めません。{_cache_fix(errno.EACCES)}")
        raise _report(raw, listed, "\n".join(advice))
    return root
