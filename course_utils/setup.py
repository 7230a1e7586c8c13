"""ノートブック冒頭の準備: デバイス選択、乱数シード、日本語フォント、クイックモード。"""

from __future__ import annotations

import platform
import random
import warnings
from typing import TypeVar

import numpy as np
import torch

# 環境変数の旗・Colab か・フォントの場所は course_utils.env にある（ここからも import できるように残す）
from course_utils.env import (OFFLINE_ENV, QUICK_ENV, SEED_ENV, course_seed, env_flag, flag_text,
                              in_colab, is_offline, is_quick, japanese_font_path)
from course_utils.name_errors import explain_name_errors, name_error_hint
from course_utils.preflight import version_problems

__all__ = ["OFFLINE_ENV", "QUICK_ENV", "SEED_ENV", "by_mode", "course_seed", "env_flag",
           "explain_name_errors", "get_device", "in_colab",
           "is_offline", "is_quick", "japanese_font_path", "name_error_hint", "register_japanese_font",
           "seed_everything", "setup_notebook"]

T = TypeVar("T")


def by_mode(full: T, quick: T) -> T:
    """通常モードなら full、クイックモードなら quick を返す（エポック数などに使う）。"""
    return quick if is_quick() else full


def seed_everything(seed: int = 0) -> None:
    """random・NumPy・PyTorch（CPU と GPU）の乱数シードをまとめて固定する。"""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # すべての GPU のシードも同時に設定される


def get_device() -> torch.device:
    """GPU（CUDA）が使えれば cuda、なければ cpu を返す。"""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def setup_notebook(seed: int | None = None) -> torch.device:
    """ノートブックの最初に一度呼ぶ。デバイスを選び、シードを固定し、日本語フォントを登録する。

    seed を省くと環境変数 COURSE_SEED（既定 0）を使う。使うデバイス・環境・モードを表示し、
    選んだ torch.device を返す（00 で導入）。
    """
    seed = course_seed() if seed is None else seed
    seed_everything(seed)
    explain_name_errors()
    font = register_japanese_font()
    device = get_device()
    place = "Google Colab" if in_colab() else "ローカル（JupyterLab など）"
    print(f"デバイス   : {_describe_device(device)}")
    print(f"実行環境   : {place} / Python {platform.python_version()}"
          f" / PyTorch {torch.__version__}")
    print(f"日本語フォント: {font or '未登録（警告を参照）'} / 乱数シード: {seed}")
    for finding in version_problems():  # 版に問題があるときだけ表示する（詳しい点検は 00）
        print(finding)
    if is_offline():
        print(f"オフライン（{flag_text(OFFLINE_ENV)}）: ダウンロードせず、キャッシュにあるものだけを使います。")
    if is_quick():
        print("=" * 60)
        print(f"クイックモード（{flag_text(QUICK_ENV)}）で実行中です。")
        print("小さなデータと少ないエポックで動作確認だけを行います。")
        print("表示される正解率や図の結果には意味がありません。")
        print("=" * 60)
    return device
