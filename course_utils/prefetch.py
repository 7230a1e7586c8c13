"""授業の前に、講座が使うデータを 1 か所のキャッシュに用意する（講師向け）。

    python -m course_utils.prefetch

キャッシュの場所は環境変数 COURSE_CACHE_DIR（既定は ~/.cache/dl-course-ja）。教室の端末で
COURSE_CACHE_DIR をこの場所（共有フォルダなど）にし、COURSE_OFFLINE=1 にすると、
各端末はダウンロードせずにキャッシュだけを使い、足りないものがあれば日本語で伝える。
"""

from __future__ import annotations

import os
import sys

from course_utils.mnist_files import (DATA_ENV, FILES, OFFLINE_ENV, MNISTDataError, cache_dir,
                                      mnist_root)


def prefetch() -> bool:
    """MNIST を用意し（なければダウンロードして MD5 を検査し）、結果をまとめて表示する。成功なら True。"""
    print(f"キャッシュの場所: {cache_dir()}（環境変数 COURSE_CACHE_DIR で変更できます）")
    try:
        root = mnist_root(download=True)  # オフラインの指定があっても、用意するときはダウンロードする
    except MNISTDataError as error:
        print(f"✗ MNIST を用意できませんでした:\n{error}")
        return False
    raw = root / "MNIST" / "raw"
    size = sum((raw / name).stat().st_size for name in FILES) / 1e6
    where = f"{DATA_ENV} のフォルダ" if os.environ.get(DATA_ENV) else "キャッシュ"
    print(f"✓ MNIST: {len(FILES)} ファイル、{size:.0f} MB（{where}: {raw}）")
    print("  事前学習済みモデル（06）: 06 はまだないので、用意するものはありません。")
    print(f"教室の端末では {OFFLINE_ENV}=1 と COURSE_CACHE_DIR={cache_dir()} を設定してください。")
    return True


if __name__ == "__main__":
    sys.exit(0 if prefetch() else 1)
