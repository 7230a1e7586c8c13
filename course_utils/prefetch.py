"""授業の前に、講座が使うデータと重みを 1 か所のキャッシュに用意する（講師向け）。

    python -m course_utils.prefetch            # MNIST と 06 の事前学習済みモデルの重み（約 2.5 GB）
    python -m course_utils.prefetch --no-models  # MNIST だけ

キャッシュの場所は環境変数 COURSE_CACHE_DIR（既定は ~/.cache/dl-course-ja）。教室の端末で
COURSE_CACHE_DIR をこの場所（共有フォルダなど）にし、COURSE_OFFLINE=1 にすると、
各端末はダウンロードせずにキャッシュだけを使い、足りないものがあれば日本語で伝える。
"""

from __future__ import annotations

import argparse
import os
import sys

from course_utils.mnist_files import (DATA_ENV, FILES, OFFLINE_ENV, MNISTDataError, cache_dir,
                                      mnist_root)


def prefetch_mnist() -> bool:
    """MNIST を用意し（なければダウンロードして MD5 を検査し）、結果を表示する。成功なら True。"""
    try:
        root = mnist_root(download=True)  # オフラインの指定があっても、用意するときはダウンロードする
    except MNISTDataError as error:
        print(f"✗ MNIST を用意できませんでした:\n{error}")
        return False
    raw = root / "MNIST" / "raw"
    size = sum((raw / name).stat().st_size for name in FILES) / 1e6
    where = f"{DATA_ENV} のフォルダ" if os.environ.get(DATA_ENV) else "キャッシュ"
    print(f"✓ MNIST: {len(FILES)} ファイル、{size:.0f} MB（{where}: {raw}）")
    return True


def prefetch_models() -> bool:
    """06 の全モデルの重みをキャッシュに用意し、読めることを確かめる。すべて揃えば True。"""
    from safetensors import safe_open

    from course_utils.pretrained import MODELS, ensure_weights, weights_path

    ready = 0
    for spec in MODELS:
        reason = ensure_weights(spec, download=True)  # オフラインの指定があっても、用意するときはダウンロードする
        if reason:
            print(f"✗ {spec.name}: {reason}")
            continue
        path = weights_path(spec.tag)
        try:
            with safe_open(str(path), framework="pt") as weights:
                count = len(list(weights.keys()))
        except Exception as error:  # 途中で切れたファイルなど
            print(f"✗ {spec.name}: {path} を読めません（{type(error).__name__}）。消してやり直してください。")
            continue
        print(f"✓ {spec.name}: {path.stat().st_size / 1e6:,.0f} MB、{count} 個のテンソル（{path}）")
        ready += 1
    print(f"事前学習済みモデル（06）: {len(MODELS)} 個のうち {ready} 個を用意しました。")
    return ready == len(MODELS)


def prefetch(models: bool = True) -> bool:
    """MNIST と（models なら）06 の重みを用意し、結果をまとめて表示する。すべて成功なら True。"""
    print(f"キャッシュの場所: {cache_dir()}（環境変数 COURSE_CACHE_DIR で変更できます）")
    ok = prefetch_mnist()
    if models:
        ok = prefetch_models() and ok
    else:
        print("事前学習済みモデル（06）: --no-models なので用意しません。")
    print(f"教室の端末では {OFFLINE_ENV}=1 と COURSE_CACHE_DIR={cache_dir()} を設定してください。")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="講座のデータと重みをキャッシュに用意します。")
    parser.add_argument("--no-models", action="store_true",
                        help="06 の事前学習済みモデルの重み（約 2.5 GB）を用意しない")
    sys.exit(0 if prefetch(models=not parser.parse_args().no_models) else 1)
