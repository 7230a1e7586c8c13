"""描いた数字のファイル（JSON）を読み書きする（04・06。部品は course_utils.live の DigitPad）。

- load_drawn_digits: 講座に同梱した数字（scripts/make_drawn_digits.py で作成）か、
  DigitPad の「例として保存」で書いたファイルを読む。
- append_example: 例を 1 つファイルに書き足す（DigitPad の保存が使う。前の中身を壊さない）。
- check_strokes: 線の形を確かめる（ファイルを読むときと、部品に届いた線の両方に使う）。
ファイルの形: {"digits": [{"label": 数, "strokes": [[[x, y], ...], ...]}, ...]}
（座標は 280×280 の枠の画素。ほかのキーは読み飛ばし、書き足すときも残す）。
"""

from __future__ import annotations

import json
import math
import numbers
import os
import stat
from importlib import resources
from pathlib import Path

import numpy as np

from course_utils.env import expand_home as expand_path  # 先頭の ~ をホームフォルダにする（写真の部品と同じ）
from course_utils.env import os_error_reason, replace_file

CANVAS_SIZE = 280  # 描く枠の 1 辺の画素数（28 × 10）。線の座標はこの枠の画素
DRAWN_DIGITS_FILE = "drawn_digits.json"
MAX_STROKES = 1_000  # 1 つの数字の線の本数の上限（それより多いものは、描いたものではない）
MAX_POINTS = 20_000  # 点の数の上限（数字 1 つはふつう数百点。多すぎる線で待たせない）
MAX_FILE_BYTES = 64 * 2**20  # 描いた数字のファイルの大きさの上限（例 1 つは数 KB）
FILE_FORM = '{"digits": [{"label": 数, "strokes": [...]}, ...]}'
SAVED_ABOUT = ("DigitPad の「例として保存」で保存した、描いた数字の線（280×280 の枠の座標）と正解のラベル。"
               "course_utils.live.load_drawn_digits で読めます。")

Strokes = list  # [[[x, y], [x, y], ...], ...]: 線（ペンを下ろしてから上げるまで）ごとの点の列


def describe(value) -> str:
    """メッセージに出す、値の種類の短い説明（中身は出さない: 巨大なものや深い入れ子もあるため）。"""
    if value is None:
        return "null（値なし）"
    if isinstance(value, (list, tuple)):
        return f"{len(value)} 個の値のリスト"
    if callable(value) and not isinstance(value, type):
        return "関数"
    names = {"str": "文字", "dict": "辞書", "bool": "真偽値"}
    return names.get(type(value).__name__, type(value).__name__)


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError
    return float(value)


def check_strokes(strokes) -> Strokes:
    """strokes が [[[x, y], ...], ...] の形か確かめて、数の並びにして返す（違えば日本語の ValueError）。

    null や数でない座標、枠から大きく外れた点、多すぎる線（MAX_STROKES 本・MAX_POINTS 点まで）も断る。
    """
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"線は [[[x, y], ...], ...] の形のリストで渡してください（渡されたもの: "
                         f"{describe(strokes)}）。")
    if len(strokes) > MAX_STROKES:
        raise ValueError(f"線が {len(strokes):,} 本あり、多すぎます（上限 {MAX_STROKES:,} 本）。")
    result, total = [], 0
    for k, stroke in enumerate(strokes):
        if not isinstance(stroke, (list, tuple, np.ndarray)):
            raise ValueError(f"{k + 1} 本目の線が [x, y] の点の並びではありません（{describe(stroke)}）。")
        total += len(stroke)
        if total > MAX_POINTS:
            raise ValueError(f"線の点が {MAX_POINTS:,} 個を超えていて、多すぎます（上限 {MAX_POINTS:,} 個）。")
        points = []
        for point in stroke:
            try:
                if isinstance(point, (str, bytes, dict)):
                    raise TypeError
                x, y = point
                x, y = _number(x), _number(y)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{k + 1} 本目の線が [x, y] の点の並びではありません"
                                 f"（点の 1 つが {describe(point)}）。") from None
            if not all(math.isfinite(v) and -CANVAS_SIZE <= v <= 2 * CANVAS_SIZE for v in (x, y)):
                raise ValueError(f"{k + 1} 本目の線に、枠（0〜{CANVAS_SIZE}）から大きく外れた点か、"
                                 f"数でない点（NaN など）があります: ({x:g}, {y:g})。")
            points.append([x, y])
        if points:
            result.append(points)
    return result


def _read_digits_file(path: Path, shown: str) -> object | None:
    """描いた数字のファイルを読み、JSON の中身を返す（空のファイルなら None）。読めなければ日本語のエラー。"""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{shown} が見つかりません。DigitPad の「例として保存」で作ったファイルの"
                                "名前を確かめてください。") from None
    except OSError as error:
        raise OSError(f"{shown} を調べられません: {os_error_reason(error)}。") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{shown} はフォルダで、ファイルではありません。フォルダの中のファイルの名前まで"
                                f"入れてください（例: {Path(shown) / 'my_drawn_digits.json'}）。")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{shown} は普通のファイルではない（デバイスやパイプなど）ので、読みません。")
    if info.st_size > MAX_FILE_BYTES:
        raise ValueError(f"{shown} は {info.st_size / 2**20:.0f} MB あり、描いた数字のファイルにしては"
                         f"大きすぎます（上限 {MAX_FILE_BYTES / 2**20:.0f} MB）。")
    try:
        text = path.read_bytes().decode("utf-8")
    except PermissionError:
        raise PermissionError(f"{shown} は読む権限がないので、開けません。ファイルの持ち主や権限"
                              "（読み取りの許可）を確かめてください。") from None
    except UnicodeDecodeError:
        raise ValueError(f"{shown} は描いた数字のファイル（JSON）として読めません"
                         "（UTF-8 の文字のファイルではありません）。") from None
    except OSError as error:
        raise OSError(f"{shown} を読めませんでした: {os_error_reason(error)}。") from None
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{shown} は描いた数字のファイル（JSON）として読めません。") from None
    except RecursionError:
        raise ValueError(f"{shown} は括弧の入れ子が深すぎて、描いた数字のファイル（JSON）として"
                         "読めません。") from None


def _examples(data, shown: str) -> list[tuple[Strokes, int]]:
    """JSON の中身が描いた数字のファイルの形か確かめて、(線, ラベル) のリストにする（違えば日本語の ValueError）。"""
    form = f"{shown} の中身が、描いた数字のファイルの形（{FILE_FORM}）ではありません"
    if not isinstance(data, dict) or "digits" not in data:
        raise ValueError(f"{form}（「digits」の一覧がありません）。")
    if not isinstance(data["digits"], list):
        raise ValueError(f"{form}（「digits」が一覧ではありません）。")
    examples = []
    for n, item in enumerate(data["digits"], 1):
        if not isinstance(item, dict) or "label" not in item or "strokes" not in item:
            raise ValueError(f"{form}（{n} 個目の例に「label」か「strokes」がありません）。")
        label = item["label"]
        if (isinstance(label, bool) or not isinstance(label, numbers.Real) or not math.isfinite(label)
                or label != int(label) or not 0 <= label <= 9):
            raise ValueError(f"{form}（{n} 個目の例のラベルが 0〜9 の整数ではありません）。")
        try:
            strokes = check_strokes(item["strokes"])
        except ValueError as error:
            raise ValueError(f"{form}（{n} 個目の例: {error}）") from None
        examples.append((strokes, int(label)))
    return examples


def load_drawn_digits(path: str | Path | None = None) -> list[tuple[Strokes, int]]:
    """描いた数字の線とラベルの組のリスト（04 で導入）。

    path を省くと講座に同梱したもの（作り方は scripts/make_drawn_digits.py）、渡すと DigitPad の
    「例として保存」で書いたファイルを読む。読めないときは、理由を日本語のエラーで伝える。
    """
    if path is None:
        bundled = resources.files("course_utils").joinpath(DRAWN_DIGITS_FILE)
        with bundled.open("r", encoding="utf-8") as f:
            return _examples(json.load(f), DRAWN_DIGITS_FILE)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_drawn_digits にはファイルの名前（文字列か Path）を渡してください"
                        f"（渡されたもの: {describe(path)}）。")
    shown = os.fsdecode(os.fspath(path))
    data = _read_digits_file(expand_path(path), shown)
    if data is None:
        raise ValueError(f"{shown} は空のファイルで、描いた数字が入っていません。")
    return _examples(data, shown)


def append_example(path: Path, example: dict) -> tuple[str | None, int]:
    """ファイル path に例を 1 つ書き足す。(書けなかった理由か None, ファイルの例の数) を返す。

    描いた数字のファイルでないもの・読めないものには書かない（ファイルは元のまま）。知らないキーは残す。
    一時ファイルに書いてから置き換えるので、途中で失敗しても前の中身は残る（env.replace_file）。
    """
    shown = str(path)
    keep = "ファイルは元のままです（何も変えていません）。"
    other = ("別のファイルに保存するには、DigitPad(..., save_path=\"my_drawn_digits_2.json\") のように"
             "別の名前を指定してください。")
    try:
        data = _read_digits_file(path, shown)
        if data is not None:
            _examples(data, shown)  # 描いた数字のファイルの形でなければ書かない
    except FileNotFoundError:
        data = None
    except (OSError, ValueError) as error:
        return f"ファイル {shown} には書き足していません。{error}{keep}{other}", 0
    if data is None:
        data = {"about": SAVED_ABOUT, "digits": []}
    if not path.parent.is_dir():
        return (f"ファイル {shown} には書けませんでした: フォルダ {path.parent} がありません。"
                f"先にフォルダを作るか、ある場所を指定してください。{other}"), 0
    data["digits"].append(example)
    try:
        text = json.dumps(data, ensure_ascii=False) + "\n"
    except (RecursionError, ValueError):  # 知らないキーの中身が深すぎるなど
        return f"ファイル {shown} には書き足していません（中身を書き直せません）。{keep}{other}", 0
    try:
        replace_file(path, text)
    except OSError as error:
        return (f"ファイル {shown} には書けませんでした: {os_error_reason(error)}。"
                f"ファイルは前のまま（前に保存した例も残っています）。"), 0
    return None, len(data["digits"])
