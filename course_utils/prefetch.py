"""授業の前に、講座が使うデータと重みを 1 か所のキャッシュに用意する（講師向け）。

    python -m course_utils.prefetch            # MNIST と 07 の事前学習済みモデルの重み（約 2.5 GB）
    python -m course_utils.prefetch --no-models  # MNIST だけ

キャッシュの場所は環境変数 COURSE_CACHE_DIR（既定は ~/.cache/dl-course-ja）。教室の端末で
COURSE_CACHE_DIR をこの場所（共有フォルダなど）にし、COURSE_OFFLINE=1 にすると、
各端末はダウンロードせずにキャッシュだけを使い、足りないものがあれば日本語で伝える。
"""

from __future__ import annotations

import argparse
import sys

from course_utils.env import (CACHE_ENV, DATA_ENV, OFFLINE_ENV, cache_dir, data_dir_setting,
                              folder_problem, os_error_reason)
from course_utils.mnist_files import FILES, MNISTDataError, mnist_root


def prefetch_mnist() -> bool:
    """MNIST を用意し（なければダウンロードして MD5 を検査し）、結果を表示する。成功なら True。"""
    try:
        root = mnist_root(download=True)  # オフラインの指定があっても、用意するときはダウンロードする
    except MNISTDataError as error:
        print(f"✗ MNIST を用意できませんでした:\n{error}")
        return False
    except OSError as error:  # mnist_root が日本語にしきれなかった、手元のファイルの失敗
        print(f"✗ MNIST を用意できませんでした: {os_error_reason(error)}")
        return False
    raw = root / "MNIST" / "raw"
    try:
        size = sum((raw / name).stat().st_size for name in FILES) / 1e6
    except OSError as error:
        print(f"✗ MNIST のファイルの大きさを調べられません（{raw}）: {os_error_reason(error)}")
        return False
    where = f"{DATA_ENV} のフォルダ" if data_dir_setting() else "キャッシュ"
    print(f"✓ MNIST: {len(FILES)} ファイル、{size:.0f} MB（{where}: {raw}）")
    return True


def prefetch_models() -> bool:
    """07 の全モデルの重みをキャッシュに用意し、読めることを確かめる。すべて揃えば True。"""
    from safetensors import safe_open

    from course_utils.pretrained import MODELS, ensure_weights, load_model, weights_path

    problem = folder_problem(cache_dir() / "timm")
    if problem:  # 9 個のモデルで同じ失敗を繰り返さない
        print(f"✗ 重みを置くキャッシュのフォルダを使えません: {problem}。\n"
              f"  環境変数 {CACHE_ENV} に、書き込めるフォルダを指定してください。")
        print(f"事前学習済みモデル（07）: {len(MODELS)} 個のうち 0 個を用意しました。")
        return False
    ready = 0
    for spec in MODELS:
        reason = ensure_weights(spec, download=True)  # オフラインの指定があっても、用意するときはダウンロードする
        if reason:
            print(f"✗ {spec.name}: {reason}")
            continue
        if spec.package:  # pip のパッケージに入っている重み（ダウンロードしない）。SHA-256 と形を確かめる
            item = load_model(spec)
            print(f"{'✓' if item.pretrained else '✗'} {spec.name}: {item.note}")
            ready += item.pretrained
            continue
        path = weights_path(spec.tag)
        try:
            with open(path, "rb"):  # 権限で読めないのは、壊れたのとは違う
                pass
        except OSError as error:
            print(f"✗ {spec.name}: {path} を読めません: {os_error_reason(error)}。")
            continue
        try:
            with safe_open(str(path), framework="pt") as weights:
                count = len(list(weights.keys()))
            size_mb = path.stat().st_size / 1e6
        except Exception as error:  # 途中で切れたファイルなど
            print(f"✗ {spec.name}: {path} を読めません（{type(error).__name__}）。消してやり直してください。")
            continue
        print(f"✓ {spec.name}: {size_mb:,.0f} MB、{count} 個のテンソル（{path}）")
        ready += 1
    print(f"事前学習済みモデル（07）: {len(MODELS)} 個のうち {ready} 個を用意しました。")
    return ready == len(MODELS)


def prefetch(models: bool = True) -> bool:
    """MNIST と（models なら）07 の重みを用意し、結果をまとめて表示する。すべて成功なら True。"""
    print(f"キャッシュの場所: {cache_dir()}（環境変数 COURSE_CACHE_DIR で変更できます）")
    ok = prefetch_mnist()
    if models:
        ok = prefetch_models() and ok
    else:
        print("事前学習済みモデル（07）: --no-models なので用意しません。")
    print(f"教室の端末では {OFFLINE_ENV}=1 と COURSE_CACHE_DIR={cache_dir()} を設定してください。")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="講座のデータと重みをキャッシュに用意します。")
    parser.add_argument("--no-models", action="store_true",
                        help="07 の事前学習済みモデルの重み（約 2.5 GB）を用意しない")
    sys.exit(0 if prefetch(models=not parser.parse_args().no_models) else 1)
