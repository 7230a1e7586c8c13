"""ノートブック冒頭の準備: デバイス選択、乱数シード、日本語フォント、クイックモード。"""

from __future__ import annotations

import importlib.util
import os
import platform
import random
import sys
import warnings
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

QUICK_ENV = "COURSE_QUICK"
_FONT_FILE = Path("fonts") / "ipaexg.ttf"  # japanize-matplotlib に同梱の IPAex ゴシック


def env_flag(name: str) -> bool:
    """環境変数 name が 1・true・yes・on（大文字小文字は問わない）なら True を返す。"""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def is_quick() -> bool:
    """クイックモード（環境変数 COURSE_QUICK=1）なら True を返す。"""
    return env_flag(QUICK_ENV)


def by_mode(full: T, quick: T) -> T:
    """通常モードなら full、クイックモードなら quick を返す（エポック数などに使う）。"""
    return quick if is_quick() else full


def in_colab() -> bool:
    """Google Colab の上で動いていれば True を返す。"""
    return "google.colab" in sys.modules


def seed_everything(seed: int = 0) -> None:
    """random・NumPy・PyTorch（CPU と GPU）の乱数シードをまとめて固定する。"""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # すべての GPU のシードも同時に設定される


def get_device() -> torch.device:
    """GPU（CUDA）が使えれば cuda、なければ cpu を返す。"""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def register_japanese_font() -> str | None:
    """matplotlib に日本語フォント（IPAex ゴシック）を登録し、フォント名を返す。

    見つからなければ日本語で警告して None を返す（図の日本語は豆腐になる）。
    """
    from matplotlib import font_manager
    import matplotlib.pyplot as plt

    path = japanese_font_path()
    if path is None:
        warnings.warn(
            "日本語フォントが見つかりません。図の日本語が □ で表示されます。"
            "`pip install japanize-matplotlib` を実行してから"
            "カーネルを再起動してください。",
            stacklevel=2,
        )
        return None
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    # IPAex に無い記号（✓ ✗ など）は DejaVu Sans で補う
    plt.rcParams["font.family"] = [name, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False  # マイナス記号の豆腐対策
    return name


def _describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        memory = torch.cuda.get_device_properties(device).total_memory / 2**30
        return f"GPU ({name}, {memory:.0f} GiB)"
    threads = torch.get_num_threads()
    note = "GPU が見つからないので CPU で計算します"
    if in_colab():
        note += "（Colab では「ランタイム → ランタイムのタイプを変更 → T4 GPU」）"
    return f"CPU（{threads} スレッド）: {note}"


def setup_notebook(seed: int = 0) -> torch.device:
    """ノートブックの最初に一度呼ぶ。デバイスを選び、シードを固定し、日本語フォントを登録する。

    使うデバイス・環境・モードを表示し、選んだ torch.device を返す（00 で導入）。
    """
    seed_everything(seed)
    font = register_japanese_font()
    device = get_device()
    place = "Google Colab" if in_colab() else "ローカル（JupyterLab など）"
    print(f"デバイス   : {_describe_device(device)}")
    print(f"実行環境   : {place} / Python {platform.python_version()}"
          f" / PyTorch {torch.__version__}")
    print(f"日本語フォント: {font or '未登録（警告を参照）'} / 乱数シード: {seed}")
    from course_utils.preflight import version_problems  # preflight が setup を使うので、ここで読む

    for finding in version_problems():  # 版に問題があるときだけ表示する（詳しい点検は 00）
        print(finding)
    if is_quick():
        print("=" * 60)
        print("クイックモード（COURSE_QUICK=1）で実行中です。")
        print("小さなデータと少ないエポックで動作確認だけを行います。")
        print("表示される正解率や図の結果には意味がありません。")
        print("=" * 60)
    return device
