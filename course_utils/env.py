"""講座の環境: 環境変数の旗（クイックモード・オフライン）、Colab か、キャッシュとデータのフォルダ。

講座のほかのモジュールはここから読む。このモジュールは講座のどのモジュールも import しない
（依存の矢印が一方向になるように、いちばん下に置く）。重いライブラリ（torch など）も読まない。

    COURSE_QUICK=1      クイックモード（小さなデータと少ないエポック、ネットワークを使わない）
    COURSE_OFFLINE=1    ダウンロードせず、キャッシュにあるものだけを使う（教室向け）
    COURSE_CACHE_DIR    データと重みのキャッシュ置き場（既定は ~/.cache/dl-course-ja）
    COURSE_DATA_DIR     MNIST/raw/ を含むフォルダ（あればダウンロードせずにそこを使う）
    COURSE_SEED         学習の乱数シードの基準（既定は 0。別のシードで結論が変わらないかを確かめる）
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import stat
import sys
import tempfile
import unicodedata
import warnings
from collections.abc import Mapping
from pathlib import Path

QUICK_ENV = "COURSE_QUICK"
OFFLINE_ENV = "COURSE_OFFLINE"
CACHE_ENV = "COURSE_CACHE_DIR"
DATA_ENV = "COURSE_DATA_DIR"
SEED_ENV = "COURSE_SEED"

REPO_ROOT = Path(__file__).resolve().parents[1]  # 相対パスの COURSE_DATA_DIR を探す 2 番目の場所
_FONT_FILE = Path("fonts") / "ipaexg.ttf"  # japanize-matplotlib に同梱の IPAex ゴシック

# 旗の値は、前後の空白と引用符を除き、全角を半角にし（NFKC: IME のまま打った「１」「ｏｎ」も通す）、
# 小文字にしてから比べる。数は値で比べる（1.0 は 1、0.0 は 0）。
ON_WORDS = frozenset({"1", "true", "yes", "y", "on"})
OFF_WORDS = frozenset({"", "0", "false", "no", "n", "off"})

# 知らない値（2、enable など）はオンとして扱い、日本語で警告する。
# - COURSE_QUICK: この変数はクイックモードを入れるためだけにあるので、設定した人はたいてい
#   オンのつもり（2、1.0、enable）。オンならネットワークを使わず短時間で終わり、冒頭に大きく
#   「クイックモード」と表示されるので、取り違えてもすぐ気づける。
# - COURSE_OFFLINE: 安全な側はオフライン。「通信させない」つもりの教室で黙って通信する
#   （回線を埋める、外に出てはいけない端末が外へつなぐ）ほうが、キャッシュにないものを
#   「ダウンロードしません」と日本語で伝えるより害が大きい。
_MEANING = {
    QUICK_ENV: "クイックモード",
    OFFLINE_ENV: "オフライン: ダウンロードしない",
}
_UNKNOWN_NOTE = {
    QUICK_ENV: "",
    OFFLINE_ENV: "安全のため、",
}
_warned: set[tuple[str, str]] = set()  # 同じ値の警告は 1 回だけ出す


class CourseSettingWarning(UserWarning):
    """講座の環境変数の値が分からないときの警告（日本語）。"""


def _normalize(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()  # .env ファイルなどで付いた引用符（COURSE_QUICK="1"）
    return text.casefold()


def parse_flag(value: str | None) -> bool | None:
    """旗の値を読む。オンなら True、オフ（未設定を含む）なら False、分からなければ None。"""
    if value is None:
        return False
    text = _normalize(value)
    if text in ON_WORDS:
        return True
    if text in OFF_WORDS:
        return False
    try:
        number = float(text)
    except ValueError:
        return None
    if number == 1:
        return True
    if number == 0:
        return False
    return None  # 2 や -1 や nan は、どちらのつもりか分からない


def unknown_flag_message(name: str, value: str) -> str:
    """環境変数 name の値 value が分からないときの日本語の説明（どう扱うかも言う）。"""
    meaning = _MEANING.get(name, "オン")
    note = _UNKNOWN_NOTE.get(name, "")
    return (f"環境変数 {name} の値「{value}」は分かりません。{note}オン（{meaning}）として扱います。"
            f"オンにするなら {name}=1、オフにするなら {name}=0 にするか、{name} を消してください"
            f"（使える値: 1・true・yes・on と 0・false・no・off。全角でもかまいません）。")


def env_flag(name: str) -> bool:
    """環境変数 name が 1・true・yes・on（大文字小文字・全角半角・前後の空白は問わない）なら True。

    0・false・no・off・空・未設定なら False。それ以外の値は、日本語で警告してから True として扱う
    （理由はこのモジュールの _MEANING の上の説明）。
    """
    value = os.environ.get(name)
    flag = parse_flag(value)
    if flag is not None:
        return flag
    if (name, value) not in _warned:
        _warned.add((name, value))
        warnings.warn(unknown_flag_message(name, value), CourseSettingWarning, stacklevel=2)
    return True


def flag_text(name: str) -> str:
    """「COURSE_OFFLINE=1」のように、いまの設定を表示用に返す（未設定なら「COURSE_OFFLINE が未設定」）。"""
    value = os.environ.get(name)
    return f"{name} が未設定" if value is None else f"{name}={value.strip()}"


def unknown_flags() -> dict[str, str]:
    """講座の旗のうち、値が分からないもの（変数名 → 値）を返す（00 の点検で使う）。"""
    values = {name: os.environ.get(name) for name in (QUICK_ENV, OFFLINE_ENV)}
    return {name: value for name, value in values.items() if parse_flag(value) is None}


def is_quick() -> bool:
    """クイックモード（環境変数 COURSE_QUICK=1）なら True を返す。"""
    return env_flag(QUICK_ENV)


def is_offline() -> bool:
    """オフラインの指定（環境変数 COURSE_OFFLINE=1）があれば True を返す。"""
    return env_flag(OFFLINE_ENV)


def course_seed() -> int:
    """学習の乱数シードの基準（環境変数 COURSE_SEED、既定 0）。整数でなければ日本語で警告して 0。"""
    value = os.environ.get(SEED_ENV)
    if value is None or not _normalize(value):
        return 0
    text = _normalize(value)
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if 0 <= seed < 2**31:
        return seed
    if (SEED_ENV, value) not in _warned:
        _warned.add((SEED_ENV, value))
        warnings.warn(f"環境変数 {SEED_ENV} の値「{value}」は 0 以上の整数ではないので、シード 0 を使います"
                      f"（例: {SEED_ENV}=1）。", CourseSettingWarning, stacklevel=2)
    return 0


def in_colab() -> bool:
    """Google Colab の上で動いていれば True を返す。"""
    return "google.colab" in sys.modules


def _path_from(value: str) -> Path:
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]  # コピーしたパスに付いてきた引用符
    return expand_home(text)


def expand_home(path: str | Path) -> Path:
    """先頭の ~ をホームフォルダにする。ホームが分からない（HOME が無い、知らないユーザー）ときはそのまま。"""
    try:
        return Path(path).expanduser()
    except (RuntimeError, KeyError):
        return Path(path)


def _home() -> Path:
    try:
        return Path.home()
    except (RuntimeError, KeyError):  # HOME も利用者の情報も無い環境（コンテナなど）
        return Path(tempfile.gettempdir())


def cache_dir() -> Path:
    """データと重みを置くキャッシュフォルダ（COURSE_CACHE_DIR、既定は ~/.cache/dl-course-ja）。"""
    value = os.environ.get(CACHE_ENV, "")
    if value.strip():
        return _path_from(value)
    return _home() / ".cache" / "dl-course-ja"


def cache_setting() -> str:
    """いまの COURSE_CACHE_DIR の設定を、直し方の文に添える形で言う（未設定なら既定の場所）。"""
    value = os.environ.get(CACHE_ENV, "").strip()
    return f"いまの値: {value}" if value else f"いまは未設定で、既定の {cache_dir()}"


def data_dir_setting() -> str | None:
    """COURSE_DATA_DIR の値（空白だけなら未設定と同じく None）。"""
    value = os.environ.get(DATA_ENV, "")
    return value if value.strip() else None


def resolve_data_dir(given: str) -> Path:
    """COURSE_DATA_DIR の値 given を絶対パスにする。

    相対パスは、まず今のフォルダから、なければリポジトリの一番上から探す
    （ノートブックは notebooks/ の中で動くので、README どおりの ../shared/data も通す）。
    """
    path = _path_from(given)
    if not path.is_absolute() and not _exists(path):
        from_repo = REPO_ROOT / path
        if _exists(from_repo):
            return Path(os.path.abspath(from_repo))
    return Path(os.path.abspath(path))


def data_dir() -> Path | None:
    """COURSE_DATA_DIR の場所（絶対パス）。未設定なら None。"""
    given = data_dir_setting()
    return None if given is None else resolve_data_dir(given)


def _exists(path: Path) -> bool:
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def japanese_font_path() -> Path | None:
    """japanize-matplotlib が同梱するフォントファイルの場所を返す（なければ None）。

    パッケージを import すると Python 3.12 以降で distutils が無いため失敗するので、
    import せずに場所だけを調べる。
    """
    spec = importlib.util.find_spec("japanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _FONT_FILE
        if path.is_file():
            return path
    return None


# --- ファイルとフォルダの失敗を日本語で言う -------------------------------------------------

NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
NO_PERMISSION = frozenset({errno.EACCES, errno.EPERM})
# 手元のファイルやフォルダの側の失敗（ネットワークの失敗ではない）を表す errno
LOCAL_ERRNOS = NO_SPACE | NO_PERMISSION | {errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                                           errno.ENAMETOOLONG, errno.ELOOP}


def os_error_reason(error: OSError) -> str:
    """OSError を、何が起きたかの短い日本語にする（英語の元の文は括弧に残す）。"""
    code = getattr(error, "errno", None)
    if isinstance(error, PermissionError) or code in NO_PERMISSION:
        text = "権限がありません"
    elif code in NO_SPACE:
        text = "ディスクの空きが足りません"
    elif code == errno.EROFS:
        text = "読み取り専用の場所です"
    elif isinstance(error, NotADirectoryError) or code == errno.ENOTDIR:
        text = "途中に、フォルダではなくファイルがあります"
    elif isinstance(error, FileExistsError) or code == errno.EEXIST:
        text = "同じ名前のファイルがあるので、フォルダを作れません"
    elif isinstance(error, IsADirectoryError) or code == errno.EISDIR:
        text = "ファイルではなくフォルダです"
    elif isinstance(error, FileNotFoundError) or code == errno.ENOENT:
        text = "見つかりません"
    elif code == errno.ENAMETOOLONG:
        text = "名前が長すぎます"
    else:
        text = "読み書きに失敗しました"
    detail = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"{text}（{type(error).__name__}: {detail}）"


def local_os_error(error: BaseException) -> OSError | None:
    """error（またはその原因の連鎖）が手元のファイル・フォルダの失敗なら、その OSError を返す。

    ダウンロードの失敗のうち、権限・空き容量・フォルダの形の問題を、ネットワークの問題と
    取り違えないために使う（requests の接続エラーも OSError なので、errno で見分ける）。
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and (
                getattr(error, "errno", None) in LOCAL_ERRNOS
                or isinstance(error, (PermissionError, NotADirectoryError, IsADirectoryError,
                                      FileExistsError))):
            return error
        error = error.__cause__ or error.__context__
    return None


def nearest_existing(folder: Path) -> tuple[Path | None, OSError | None]:
    """folder かその親のうち、存在するいちばん近いもの。調べられなければ (None, そのエラー)。"""
    for path in [folder, *folder.parents]:
        try:
            os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as error:  # 入る権限のないフォルダの中など
            return None, error
        return path, None
    return None, None


def folder_problem(folder: Path, write: bool = True) -> str | None:
    """folder を講座が使えるか（write なら、作れて書き込めるか）を、作らずに調べる。

    使えるなら None、使えないなら理由（日本語、何をすればよいかは呼ぶ側が足す）を返す。
    """
    folder = Path(folder)
    existing, error = nearest_existing(folder)
    if error is not None:
        return f"{folder} を調べられません: {os_error_reason(error)}"
    if existing is None:
        return f"{folder} の場所がどこにもありません"
    if not os.path.isdir(existing):
        return f"{existing} はファイルです（フォルダではありません）"
    if existing == folder:
        try:
            os.listdir(folder)
        except OSError as error:
            return f"{folder} の中を見られません: {os_error_reason(error)}"
    if write and not os.access(existing, os.W_OK | os.X_OK):
        if existing == folder:
            return f"{folder} に書き込む権限がありません"
        return f"{folder} を作れません（{existing} に書き込む権限がありません）"
    return None


def _new_file_mode() -> int:
    """新しく作るファイルの権限（open で作ったときと同じ: 0o666 から umask を除いたもの）。"""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def group_shared(folder: Path) -> bool:
    """folder がグループで書き込めるフォルダ（教室の共有キャッシュ）か。調べられなければ False。"""
    try:
        return bool(os.stat(folder).st_mode & stat.S_IWGRP)
    except OSError:
        return False


def make_folder(folder: Path) -> None:
    """folder を親ごと作る。既にあるフォルダの権限は変えない。

    作り始めた所の親がグループで書けるフォルダ（講師が用意した教室の共有キャッシュ）なら、
    作ったフォルダもグループで読み書きできるようにする。学生のアカウントの umask（ふつう 022）では
    ほかのアカウントが書けないフォルダになり、途中で止まったダウンロードを誰も続けられないため。
    親がグループで書けなければ umask のまま（個人のキャッシュをほかの人に開かない）。
    """
    folder = Path(folder)
    created, existing = [], folder
    while not existing.exists() and existing != existing.parent:
        created.append(existing)
        existing = existing.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not group_shared(existing):
        return
    for made in reversed(created):
        with contextlib.suppress(OSError):  # 同時にほかのアカウントが作ったフォルダは変えられない
            mode = stat.S_IMODE(os.stat(made).st_mode)
            os.chmod(made, mode | stat.S_IRWXG)


def share_with_group(folder: Path) -> None:
    """共有キャッシュの folder の中身を、グループで読み書きできるようにする（自分で書かなかったものの後始末）。

    たとえば huggingface_hub はファイルと作業用のフォルダ（.cache/huggingface/）を学生のアカウントの umask で作るので、
    umask が 077 だと、ほかのアカウントは重みを読めず、止まったダウンロードを続けることもできない。
    自分のものでないファイルは変えられないので飛ばす。
    """
    for item in [folder, *folder.rglob("*")]:
        if item.is_symlink():  # リンクの先は共有キャッシュの外かもしれない
            continue
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(item.stat().st_mode)
            os.chmod(item, mode | (stat.S_IRWXG if item.is_dir() else stat.S_IRGRP | stat.S_IWGRP))


def replace_file(path: str | Path, text: str) -> None:
    """path の中身を text（UTF-8）に置き換える。途中で失敗しても、元のファイルは元のまま残す。

    同じフォルダの一時ファイルに書き、ディスクに届けて（fsync）から os.replace で名前を付け替える。
    空き容量の不足・Ctrl-C・カーネルの再起動で止まっても、書きかけのファイルが元の名前に残らない。
    一時ファイルは失敗したら消す。リンクなら、リンクの先を書き換える。権限は元のファイルに合わせる。
    """
    target = Path(path).resolve()
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = _new_file_mode()
    data = memoryview(text.encode("utf-8"))
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        try:
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:  # OSError も Ctrl-C（KeyboardInterrupt）も: 書きかけを残さない
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # 名前の付け替えもディスクに届ける（POSIX）
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


# --- 対話的な部品に要るパッケージ -----------------------------------------------------------

def missing_packages(packages: tuple[str, ...]) -> list[str]:
    """packages のうち、この環境で import できないもの（入っていないもの）の名前を返す。"""
    return [name for name in packages if importlib.util.find_spec(name) is None]


def progress_bar_class():
    """進み具合の表示に使う tqdm のクラス（Jupyter で ipywidgets があれば棒、なければ文字だけ）。

    tqdm.auto は Jupyter の中では ipywidgets の部品を使うので、ipywidgets がないと英語のエラーになる。
    単位は日本語で渡す（unit="バッチ" なら「バッチ/s」。既定の it は英語の「it/s」になる）。
    """
    if missing_packages(("ipywidgets",)):
        from tqdm import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


def attribute_problem(module, names: tuple[str, ...]) -> str | None:
    """module に講座が使う names がすべてあるか。足りなければ、その理由の文（日本語）を返す。

    版が古いときや、同じ名前の別のもの（作業フォルダの anywidget.py や ipywidgets という
    フォルダなど）を読み込んだときは、import はできても中身が足りない。
    """
    lacking = []
    for attribute in names:
        try:
            getattr(module, attribute)
        except Exception:  # 遅れて読み込む属性の失敗も、足りないのと同じに扱う
            lacking.append(attribute)
    if not lacking:
        return None
    name = getattr(module, "__name__", "?")
    where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), None)
    other = f"読み込んだ {where} が同じ名前の別のもの" if where else "同じ名前の別のもの"
    return (f"AttributeError: {name} に、講座が使う {', '.join(lacking)} がありません。"
            f"版が古いか、{other}です。別のものなら、その名前を変えてください")


def optional_import(name: str, needs: tuple[str, ...] = ()):
    """入っていれば name を import して返す。入っていない・読み込むとエラーになる・講座が使う
    属性 needs が欠けているときは None。

    壊れたインストール（版の食い違いで AttributeError など）でも講座のモジュールの import は止めない。
    理由は、部品を作るときに unavailable_packages が日本語で伝える。
    """
    try:
        module = importlib.import_module(name)
    except Exception:  # ImportError だけでなく、壊れた・版の合わないインストールの失敗も
        return None
    return None if attribute_problem(module, needs) else module


def unavailable_packages(packages: tuple[str, ...] | Mapping[str, tuple[str, ...]]
                         ) -> dict[str, str | None]:
    """packages のうち読み込めないものを {名前: 理由} で返す。理由は、入っていなければ None、
    入っているのに import でエラーになれば、そのエラーの文。

    packages を {名前: 講座が使う属性の名前} で渡すと、属性が欠けているものも使えないと伝える。"""
    needs = packages if isinstance(packages, Mapping) else dict.fromkeys(packages, ())
    problems: dict[str, str | None] = {}
    for name, attributes in needs.items():
        try:
            found = importlib.util.find_spec(name) is not None
        except Exception as error:  # sys.modules に壊れたものが残っているときなど
            problems[name] = f"{type(error).__name__}: {error}"
            continue
        if not found:
            problems[name] = None
            continue
        try:
            module = importlib.import_module(name)
        except Exception as error:  # 壊れた・版の合わないインストール
            problems[name] = f"{type(error).__name__}: {error}"
            continue
        lacking = attribute_problem(module, attributes)
        if lacking:
            problems[name] = lacking
    return problems


class MissingPackages:
    """部品に要るパッケージが読み込めないときに、部品の代わりに返すもの。

    表示すると、何が足りないかと直し方を日本語で示す。部品のメソッド（pad.draw(...) など）は
    何もせずに None を返すので、ノートブックのほかのセルはそのまま進められる。部品にない名前や、
    メソッドでない属性（pad.saved など）を使うと、日本語の AttributeError にする。
    """

    def __init__(self, widget: type, problems: dict[str, str | None]) -> None:
        self.widget = widget
        self.problems = problems
        what = widget.__name__
        missing = [name for name, reason in problems.items() if reason is None]
        broken = {name: reason for name, reason in problems.items() if reason is not None}
        need = f"この部品（{what}）を表示するには {' と '.join(problems)} が必要"
        parts = [need + ("ですが、" if missing else "です。")]
        if missing:
            parts.append(f"{' と '.join(missing)} が入っていません。`pip install {' '.join(missing)}` "
                         "で入れてから、カーネルを再起動してください（Colab には最初から入っています）。")
        for name, reason in broken.items():
            parts.append(f"{name} は入っていますが、読み込むとエラーになります（{reason}）。"
                         f"`pip install -U {name}` で入れ直してから、カーネルを再起動してください。")
        parts.append("この部品がなくても、ノートブックのほかのセルはそのまま実行できます。")
        self.message = "".join(parts)

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        print(self.message)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if callable(getattr(self.widget, name, None)):
            return lambda *args, **kwargs: None
        raise AttributeError(f"{self.widget.__name__} は、必要なパッケージが読み込めないので作られていません。"
                             f"「{name}」は使えません（上の案内を参照）。")


class NeedsPackages:
    """作るときに、クラスの packages がすべて読み込めるかを確かめる部品の基底クラス。

    読み込めないものがあれば、部品の代わりに MissingPackages を返す（__init__ は呼ばれない）。
    """

    # 名前だけのタプルか、{名前: 講座が使う属性の名前}（欠けていても使えないと伝える）
    packages: tuple[str, ...] | Mapping[str, tuple[str, ...]] = ()

    def __new__(cls, *args, **kwargs):
        problems = unavailable_packages(cls.packages)
        if problems:
            return MissingPackages(cls, problems)
        return super().__new__(cls)
