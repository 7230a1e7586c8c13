"""自分のクラスの写真で分類器を作る部品 OwnClassesTrainer（08。ipywidgets 7.7 と 8 の両方で動く）。

自分のクラスの写真を集めて学習の関数に渡し、新しい写真を分類の関数に渡す。学習と分類そのものは
ノートブックが書き、この部品は写真の受け渡しと説明だけをする。写真の受け取りの共通部分は
course_utils.photos にある。
"""

from __future__ import annotations

import hashlib
import io
import numbers
import os
import re
import time
import unicodedata
from typing import Callable

import numpy as np
from IPython.display import display
from PIL import Image

from course_utils.env import NeedsPackages
from course_utils.images import ImageInputError, open_image, source_name
from course_utils.photos import (COLAB_BIG_FILES, NEEDS, _note_if_not_ready, _notice_html, _open_photo,
                                 _report_lost_upload, _show_exception, uploaded_files, widgets)
from course_utils.time_limit import (TimedOut, call_watched, call_with_limit, function_words,
                                     in_browser_event, timeout_message)

__all__ = ["EXAMPLES", "MAX_FOLDER_FILES", "OwnClassesTrainer", "Photos"]

EXAMPLES = (("ねこ", "neko"), ("いぬ", "inu"), ("うさぎ", "usagi"))  # 欄の例（クラス名, フォルダ名）
MAX_FOLDER_FILES = 200  # フォルダから読むファイルの上限（大きすぎるフォルダを指したとき用）
Photos = dict[str, list[tuple[str, Image.Image]]]


def _unquote(text: str) -> str:
    return os.path.expanduser(text.strip().strip("\"'").strip())


def _typed_paths(text: str) -> list[str]:
    """欄に入れたフォルダ・ファイルの名前を、「,」「、」「;」や改行で区切ってリストにする。"""
    text = text.strip()
    if not text:
        return []
    if text.lower().startswith("data:") or os.path.exists(_unquote(text)):
        return [text]  # 区切りの文字を含む名前もそのまま使う
    return [part.strip() for part in re.split(r"[,、;\n]", text) if part.strip()]


def _as_list(sources) -> list:
    if sources is None:
        return []
    if isinstance(sources, (str, bytes, bytearray, memoryview, os.PathLike, Image.Image, np.ndarray)):
        return [sources]  # 配列も 1 枚の写真（行ごとに分けない）
    if isinstance(sources, tuple) and len(sources) == 2 and \
            isinstance(sources[1], (bytes, bytearray, memoryview)):
        return [sources]  # (名前, 中身) の 1 組
    return list(sources)


def _png_of(item, name: str) -> bytes | str:
    """PIL の画像か NumPy の配列（(高さ, 幅) か (高さ, 幅, 3 か 4)）を PNG にする。使えなければ理由の文字列。"""
    if isinstance(item, np.ndarray):
        shape = item.shape
        if item.ndim not in (2, 3) or (item.ndim == 3 and shape[2] not in (1, 3, 4)) or min(shape[:2]) < 1:
            return (f"{name}: 形 {shape} の配列は、写真 1 枚として使えません。(高さ, 幅) か (高さ, 幅, 3) の配列を"
                    "渡してください（何枚もあるときは、1 枚ずつの配列のリストにします）。")
        if not (np.issubdtype(item.dtype, np.number) or item.dtype == bool) or \
                np.issubdtype(item.dtype, np.complexfloating):
            return f"{name}: 要素が数でない配列（{item.dtype}）は、写真として使えません。"
        values = item.astype(np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 255:
            return (f"{name}: 配列の値が 0〜255（または 0〜1）の外にあるか、NaN（数でない値）が入っているので、"
                    "写真として使えません。")
        if np.issubdtype(item.dtype, np.floating) and values.max() <= 1:
            values = values * 255  # 0〜1 の画像
        pixels = np.round(values).astype(np.uint8)
        item = Image.fromarray(pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    try:
        item.save(buffer, "PNG")
    except Exception as error:  # noqa: BLE001 壊れた画像なども、理由の文字列にする
        return f"{name}: この画像は使えませんでした（{type(error).__name__}）。"
    return buffer.getvalue()


def _cache_key(name: str, source) -> tuple:
    """開いた画像を覚えておく鍵（中身か、ファイルの場所・大きさ・更新時刻が変われば変わる）。"""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return ("bytes", name, hashlib.sha1(source).hexdigest())
    if isinstance(source, (str, os.PathLike)):
        path = _unquote(os.fsdecode(source))
        try:
            info = os.stat(path)
            return ("path", os.path.abspath(path), info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        except (OSError, ValueError):
            return ("path", path)
    return ("other", id(source))


def _folder_files(folder: str, shown: str) -> tuple[list[tuple[str, str]], list[str]]:
    """フォルダの直下のファイルを名前順に [(名前, パス), ...] にする（隠しファイルは除く）。"""
    try:
        entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")),
                         key=lambda e: e.name)
    except OSError:
        return [], [f"✗ フォルダ {shown} の中を見られませんでした（読む権限がないか、OS のエラーです）。"]
    files, notes = [], []
    for entry in entries:
        if entry.is_dir():
            notes.append(f"・フォルダ {shown} の中のフォルダ {entry.name} は見ません"
                         "（写真はフォルダの直下に置いてください）。")
        else:
            files.append((entry.name, entry.path))
    if len(files) > MAX_FOLDER_FILES:
        notes.append(f"・フォルダ {shown} には {len(files)} 個のファイルがあるので、"
                     f"名前順で最初の {MAX_FOLDER_FILES} 個だけを使います。")
    if not files:
        notes.append(f"✗ フォルダ {shown} には、写真のファイルがありません。"
                     "写真をこのフォルダの直下に置いてください。")
    return files[:MAX_FOLDER_FILES], notes


class OwnClassesTrainer(NeedsPackages):
    """自分のクラスの写真を集めて train で分類器を作り、新しい写真を classify で分類する部品（08）。

    train(photos) は {クラス名: [(ファイル名, RGB 画像), ...]}（行の順）を受け取り、分類器を返す。
    classify(分類器, 画像, 名前) は結果を表示する。どちらもノートブックが書く。
    写真は「写真を選ぶ」・フォルダかファイルの名前の欄（Colab で大きな写真を使うとき）・set_class で渡す。
    """

    packages = NEEDS

    def __init__(self, train: Callable[[Photos], object],
                 classify: Callable[[object, Image.Image, str], None],
                 max_classes: int = 3, min_photos: int = 3) -> None:
        if max_classes < 2 or min_photos < 1:
            raise ValueError("max_classes は 2 以上、min_photos は 1 以上にしてください。")
        self.train, self.classify = train, classify
        self.max_classes, self.min_photos = max_classes, min_photos
        self.classifier: object = None
        self._trained_on: list | None = None  # 学習に使った写真（鍵）
        self._cache: dict[tuple, Image.Image | str] = {}
        self._uploaded: list[list[tuple[str, bytes]]] = [[] for _ in range(max_classes)]
        self._latest = [0] * max_classes  # 最後に選んだときに届いたファイルの数（7.x の届かない分を数える）
        self._given: list[list] = [[] for _ in range(max_classes)]
        self._chosen: tuple[str, bytes] | None = None  # 「2.」で最後に選んだ写真
        self._quiet = False  # 消すボタンが欄を空にするあいだ、欄の変化に反応しない
        examples = [EXAMPLES[k] if k < len(EXAMPLES) else (f"クラス{k + 1}", f"class{k + 1}")
                    for k in range(max_classes)]
        self.names = [widgets.Text(placeholder=f"例: {name}", description=f"クラス {k + 1}",
                                   layout=widgets.Layout(width="230px"))
                      for k, (name, _) in enumerate(examples)]
        self.uploads = [widgets.FileUpload(accept="image/*", multiple=True, description="写真を選ぶ")
                        for _ in range(max_classes)]
        self.paths = [widgets.Text(placeholder=f"またはフォルダ名（例: /content/{folder}）",
                                   continuous_update=False, layout=widgets.Layout(width="300px"))
                      for _, folder in examples]
        self.counts = [widgets.Label("0 枚") for _ in range(max_classes)]
        self.clears = [widgets.Button(description="このクラスの写真を消す", layout=widgets.Layout(width="auto"))
                       for _ in range(max_classes)]
        self.train_button = widgets.Button(description="学習する", button_style="primary")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="写真を選ぶ")
        self.path = widgets.Text(placeholder="またはファイル名（例: /content/test.jpg）",
                                 layout=widgets.Layout(width="300px"))
        self.button = widgets.Button(description="この写真を分類する")
        self.output = widgets.Output()
        self.notice = widgets.HTML()  # 学習に時間がかかっているときの知らせ
        for k in range(max_classes):
            self.uploads[k].observe(lambda change, k=k: self._on_row_upload(k, change),
                                    names="value")
            if "_counter" in self.uploads[k].trait_names():  # 7.x: 中身が届かない場合を知らせる
                self.uploads[k].observe(lambda change, k=k: self._on_row_counter(k, change),
                                        names="_counter")
            self.paths[k].observe(lambda change, k=k: self._on_row_path(k), names="value")
            self.clears[k].on_click(lambda button, k=k: self._in_output(self.clear_class, k))
        self.upload.observe(self._on_upload, names="value")
        if "_counter" in self.upload.trait_names():
            self.upload.observe(self._on_counter, names="_counter")
        self.train_button.on_click(self._on_train_click)
        self.button.on_click(lambda button: self._in_output(self._classify_chosen))
        rows = [widgets.HBox([self.names[k], self.uploads[k], self.paths[k], self.counts[k], self.clears[k]])
                for k in range(max_classes)]
        self.widget = widgets.VBox([
            widgets.Label(f"1. クラスの名前と写真（1 クラス {min_photos} 枚以上。「写真を選ぶ」を"
                          "くり返すと写真が加わります）"), *rows,
            self.train_button, widgets.Label("2. 新しい写真を分類する"),
            widgets.HBox([self.upload, self.path, self.button]), self.notice, self.output])
        _note_if_not_ready(self.output, {function_words("学習", train): train,
                                         function_words("分類", classify): classify})

    # --- プログラムから使う（テストやノートブックのセル。表示はそのセルに出る） ---

    def set_class(self, index: int, name: str, sources=()) -> int:
        """index 行目（0 から）にクラス名と写真を入れ、使える写真の枚数を返す。

        sources: 中身（bytes）、ファイルやフォルダの名前、(名前, 中身) の組、PIL の画像、NumPy の配列
        （(高さ, 幅) か (高さ, 幅, 3)、0〜255 か 0〜1）、またはそのリスト。
        「写真を選ぶ」や欄のファイルに加えて使う（前に set_class で渡したものは置き換える）。
        """
        index, name = self._check_row(index, name)
        self.names[index].value = name
        self._given[index] = _as_list(sources)
        return len(self._read_row(index)[0])

    def _check_row(self, index, name) -> tuple[int, str]:
        """set_class の行の番号とクラス名を確かめる（数のクラス名は文字列にする）。違えば日本語のエラー。"""
        usage = "set_class(行の番号, クラス名, 写真) の順に渡してください（例: set_class(0, \"ねこ\", 写真のリスト)）。"
        if isinstance(index, str) and isinstance(name, numbers.Integral):
            raise TypeError(f"行の番号とクラス名が逆のようです。{usage}")
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"行の番号は 0〜{self.max_classes - 1} の整数で渡してください（渡されたもの: "
                            f"{index!r}、{type(index).__name__}）。{usage}")
        index = int(index)
        if not 0 <= index < self.max_classes:
            raise IndexError(f"行の番号は 0〜{self.max_classes - 1} です（渡された値: {index}）。"
                             f"1 行目が 0 です。")
        if isinstance(name, numbers.Number) and not isinstance(name, bool):
            name = str(name)  # 「1」「2」のような数のクラス名も、そのまま使う
        if not isinstance(name, str):
            raise TypeError(f"クラス名は文字列で渡してください（渡されたもの: {type(name).__name__}）。{usage}")
        return index, name

    def clear_class(self, index: int) -> None:
        """index 行目（0 から）の写真（選んだ写真・欄のフォルダやファイル・set_class の写真）を全部消す。名前は残す。"""
        index, _ = self._check_row(index, "")
        self._uploaded[index], self._given[index], self._latest[index] = [], [], 0
        self._quiet = True
        try:
            self.paths[index].value = ""
        finally:
            self._quiet = False
        self._report_row(index)
        print(f"✓ {index + 1} 行目の写真を消しました。「写真を選ぶ」で選び直してください。")

    def train_now(self) -> bool:
        """集めた写真を確かめて train を呼び、分類器を覚える。学習できたら True を返す。"""
        classes, report, errors = self._collect()
        print("\n".join(report + errors))
        if errors:
            return False
        photos = {name: [(file, image.copy()) for file, image, _ in items]  # 覚えた画像は渡さない
                  for name, items in classes.items()}
        total = sum(len(items) for items in photos.values())
        print(f"学習しています（{len(photos)} クラス、計 {total} 枚）…")
        start = time.perf_counter()
        try:  # 写真が多いと時間がかかるので止めない（15 秒たったら、部品の知らせの欄で知らせる）
            classifier = call_watched(self.train, (photos,), function_words("学習", self.train),
                                      self._notify)
        except Exception as error:
            _show_exception("学習", self.train, error)
            return False
        if classifier is None:
            print(f"✗ 学習の関数 {getattr(self.train, '__name__', 'train')} が None を返しました。"
                  "学習した分類器を return で返してください。")
            return False
        self.classifier, self._trained_on = classifier, _fingerprint(classes)
        print(f"✓ 学習しました（{function_words('学習', self.train)} 全体で "
              f"{time.perf_counter() - start:.1f} 秒）。下の「2. 新しい写真を分類する」で、"
              "新しい写真を試してください。")
        return True

    def classify_source(self, source, name: str = "") -> bool:
        """写真（中身の bytes かファイル名）を開いて classify に渡す。渡せたら True を返す。"""
        if self._trained_on is None:
            print("✗ まだ学習していません。先に、クラスごとに写真を集めて「学習する」を押してください。")
            return False
        classes, _, errors = self._collect()
        if errors or _fingerprint(classes) != self._trained_on:
            before, now = dict(self._trained_on), dict(_fingerprint(classes))
            changed = [n for n in dict.fromkeys([*before, *now]) if before.get(n) != now.get(n)]
            which = f"（変わったクラス: {''.join(f'「{n}」' for n in changed)}）" if changed else ""
            print(f"✗ 学習したあとで、クラスの名前か写真が変わりました{which}。今の分類器は前の写真で"
                  "学習したものです。もう一度「学習する」を押してから分類してください。")
            return False
        if isinstance(source, str):
            source = source.strip()
            if not source:
                print("分類する写真のファイル名を入れてください（例: /content/test.jpg）。")
                return False
        name = name or (source_name(source) if isinstance(source, (str, os.PathLike))
                        else "アップロードしたファイル")
        image = _open_photo(source, name)
        if image is None:
            return False
        try:  # 写真 1 枚の分類は速いはずなので、演習の答え合わせと同じ上限で止める
            call_with_limit(self.classify, (self.classifier, image, name))
        except TimedOut as timeout:
            calling = function_words("分類", self.classify, "を呼ぶ")
            print(f"✗ {timeout_message(calling, timeout.limit, timeout.stopped)}")
            return False
        except Exception as error:
            _show_exception("分類", self.classify, error)
            return False
        return True

    # --- 写真を集める ---

    def _open(self, name: str, source) -> tuple[tuple, Image.Image | str]:
        """写真を開く（前に開いたものは覚えておいた結果を使う）。使えなければ理由の文字列を返す。"""
        key = _cache_key(name, source)
        if key not in self._cache:
            try:
                self._cache[key] = open_image(source, name)[0]
            except ImageInputError as error:
                self._cache[key] = str(error)
        return key, self._cache[key]

    def _read_row(self, k: int) -> tuple[list[tuple[str, Image.Image, tuple]], list[str], int]:
        """k 行目の写真を開き、(使える写真 [(名前, 画像, 鍵)], 説明, 使えないファイルの数) を返す。"""
        photos, notes, bad, given = [], [], 0, 0
        for source in [*self._uploaded[k], *_typed_paths(self.paths[k].value), *self._given[k]]:
            folder = None
            if isinstance(source, (Image.Image, np.ndarray)):
                given += 1
                candidates = [(f"{k + 1} 行目の渡された画像 {given}", source)]
            elif isinstance(source, tuple) and len(source) == 2 and \
                    isinstance(source[1], (bytes, bytearray, memoryview)):
                candidates = [(str(source[0]), bytes(source[1]))]
            elif isinstance(source, (bytes, bytearray, memoryview)):
                candidates = [(f"{k + 1} 行目の渡されたデータ", bytes(source))]
            elif isinstance(source, (str, os.PathLike)) and \
                    os.path.isdir(_unquote(os.fsdecode(source))):
                folder = os.fsdecode(source).strip()
                candidates, folder_notes = _folder_files(_unquote(folder), folder)
                notes += folder_notes
            else:
                candidates = [(source_name(source), source)]
            usable = 0
            for file, item in candidates:
                if isinstance(item, (Image.Image, np.ndarray)):
                    item = _png_of(item, file)
                    if isinstance(item, str):  # PNG にできなかった理由
                        notes.append(f"✗ {item}")
                        bad += 1
                        continue
                key, result = self._open(file, item)
                if isinstance(result, str):
                    notes.append(f"✗ {result}")
                    bad += 1
                else:
                    photos.append((file, result, key))
                    usable += 1
            if folder and candidates and not usable:
                notes.append(f"✗ フォルダ {folder} の {len(candidates)} 個のファイルは、"
                             "どれも画像として使えませんでした（理由は上のとおりです）。")
        self.counts[k].value = f"{len(photos)} 枚" + (f"（使えないファイル {bad} 個）" if bad else "")
        return photos, notes, bad

    def _collect(self) -> tuple[dict[str, list], list[str], list[str]]:
        """全部の行を読み、(クラス名 → 写真, 各行の説明, 学習できない理由) を返す。"""
        classes, report, errors, seen, duplicated = {}, [], [], {}, False
        rows = [self._read_row(k) for k in range(self.max_classes)]
        used = {key for photos, _, _ in rows for _, _, key in photos}
        self._cache = {key: value for key, value in self._cache.items()
                       if key in used or isinstance(value, str)}  # 使わなくなった画像を忘れる
        for k, (photos, notes, bad) in enumerate(rows):
            name = self.names[k].value.strip()
            if name or photos or bad:
                report.append(f"{k + 1} 行目「{name}」: {len(photos)} 枚" if name else
                              f"{k + 1} 行目: {len(photos)} 枚")
            report += notes
            if not name:
                if photos or bad:
                    errors.append(f"✗ {k + 1} 行目に写真（ファイル {len(photos) + bad} 個）がありますが、"
                                  "クラス名が空です。クラス名を入れてください。")
                continue
            same = unicodedata.normalize("NFKC", name).casefold()
            if same in seen:
                first, other = seen[same]
                shown = f"「{other}」" if other == name else f"「{other}」と「{name}」"
                errors.append(f"✗ {first + 1} 行目と {k + 1} 行目のクラス名{shown}が同じです"
                              "（全角・半角、大文字・小文字は区別しません）。別の名前にするか、"
                              "写真を 1 つの行にまとめてください。")
                duplicated = True
                continue
            seen[same] = (k, name)
            if len(photos) < self.min_photos:
                skipped = f"（使えないファイル {bad} 個は数えていません）" if bad else ""
                errors.append(f"✗ クラス「{name}」の写真は {len(photos)} 枚です{skipped}。学習には"
                              f" 1 クラスに {self.min_photos} 枚以上が必要です（あと "
                              f"{self.min_photos - len(photos)} 枚）。写真が多いほど（向き・背景・"
                              "明るさがいろいろなほど）、分類は安定します。")
            classes[name] = photos
        if len(seen) < 2 and not duplicated:  # 名前の重複なら、上で説明した
            now = f"今は {len(seen)} つです" if seen else "今はまだありません"
            errors.append(f"✗ 学習には、名前と写真のそろったクラスが 2 つ以上必要です（{now}）。"
                          "分類器は、クラスどうしの違いを学ぶからです。空いている行にクラス名を入れ、"
                          "写真を加えてください。")
        return classes, report, errors

    # --- 学習者の操作への反応（出力欄に書く） ---

    def _in_output(self, action: Callable, *args) -> None:
        """ブラウザの操作への反応を出力欄に書く（思わぬエラーや ■ での中断も、日本語でそこに出す）。"""
        with self.output:
            self.output.clear_output(wait=True)
            in_browser_event(action, *args)

    def _notify(self, text: str) -> None:
        """時間のかかっている知らせを、部品の知らせの欄に書く（別のスレッドからも呼ばれる）。"""
        self.notice.value = _notice_html(text)

    def _report_row(self, k: int, missing: int = 0, added: int | None = None,
                    same: tuple[str, ...] = ()) -> None:
        photos, notes, _ = self._read_row(k)
        name = self.names[k].value.strip()
        now = f"（いま選んだ {added} 個を加えました）" if added else ""
        print(f"{k + 1} 行目{f'「{name}」' if name else ''}: 使える写真 {len(photos)} 枚{now}")
        if same:
            print(f"・{'、'.join(same)} は、もう入っているので加えませんでした。")
        for note in notes:
            print(note)
        if added is not None:
            print("・「写真を選ぶ」をくり返すと、写真が加わります。選び直すときは「このクラスの写真を消す」を"
                  "押してください。")
        if missing:
            print(f"✗ {k + 1} 行目で選んだファイルのうち {missing} 個の中身が届きませんでした"
                  f"{COLAB_BIG_FILES}。左の「ファイル」欄（フォルダのアイコン）でフォルダを作って"
                  f"写真をアップロードし、{k + 1} 行目の右の欄にそのフォルダの場所"
                  f"（例: /content/{EXAMPLES[k % len(EXAMPLES)][1]}）を入れて Enter を押してください。")

    def _on_row_upload(self, k: int, change) -> None:
        """選んだ写真を、前に選んだ写真に加える（同じ名前・同じ中身のものは加えない）。"""
        files = uploaded_files(change["new"])
        self._latest[k] = len(files)
        if not files:  # 8.x で、読み終えた選択を空にしたとき
            return
        known = {(name, hashlib.sha1(data).hexdigest()) for name, data in self._uploaded[k]}
        added, same = 0, []
        for name, data in files:
            key = (name, hashlib.sha1(data).hexdigest())
            if key in known:
                same.append(name)
            else:
                known.add(key)
                self._uploaded[k].append((name, data))
                added += 1
        _forget_selection(self.uploads[k])
        self._in_output(self._report_row, k, 0, added, tuple(same))

    def _on_row_counter(self, k: int, change) -> None:
        missing = (change["new"] or 0) - (change.get("old") or 0) - self._latest[k]
        if missing > 0:
            self._in_output(self._report_row, k, missing)

    def _on_row_path(self, k: int) -> None:
        if not self._quiet:
            self._in_output(self._report_row, k)

    def _on_train_click(self, button) -> None:
        button.disabled, button.description = True, "学習しています…"
        try:
            self._in_output(self.train_now)
        finally:
            button.disabled, button.description = False, "学習する"

    def _on_upload(self, change) -> None:
        """写真を選んだら、すぐに分類する。「この写真を分類する」は、この写真をもう一度分類する。"""
        files = uploaded_files(change["new"])
        if files:
            self._chosen = files[-1]
            self.path.value = ""  # ボタンが、欄の古いファイル名ではなく選んだ写真を分類するように
            _forget_selection(self.upload)
            self._in_output(self.classify_source, files[-1][1], files[-1][0])

    def _classify_chosen(self) -> bool:
        """「この写真を分類する」: 欄のファイル名があればそれを、なければ最後に選んだ写真を分類する。"""
        typed = self.path.value.strip()
        if typed or self._trained_on is None:  # 学習の前なら、classify_source が先に学習を頼む
            return self.classify_source(typed)
        if self._chosen is None:
            print("✗ 分類する写真を「写真を選ぶ」で選ぶか、ファイル名を欄に入れてから押してください"
                  "（例: /content/test.jpg）。")
            return False
        name, data = self._chosen
        return self.classify_source(data, name)

    def _on_counter(self, change) -> None:
        _report_lost_upload(change, self.upload, self.output, "", self.button.description)

    def _ipython_display_(self) -> None:
        display(self.widget)


def _forget_selection(upload) -> None:
    """ipywidgets 8: 読み終えた写真を FileUpload から消す（同じ写真を選び直しても届き、ノートブックにも残らない）。

    7.x の value は読むだけなので、そのままにする（7.x では次の選択が前の選択と入れ替わる）。
    """
    if "_counter" not in upload.trait_names():
        try:
            upload.value = ()
        except Exception:  # noqa: BLE001 消せなくても、写真はもう受け取っている
            pass


def _fingerprint(classes: dict[str, list]) -> list[tuple[str, tuple]]:
    """学習に使う写真の目印: [(クラス名, 写真の鍵の並び), ...]（行の順）。"""
    return [(name, tuple(key for _, _, key in photos)) for name, photos in classes.items()]
