"""講座を始める前の点検: 版・GPU・日本語フォント・環境変数・キャッシュと MNIST のフォルダ・ネットワーク（00 で使う）。

問題ごとに、何が起きるかと直し方を日本語で返す。点検そのものは失敗しない（例外を出さない）。
クイックモードとオフラインの指定があるときは、ネットワークに一切つながない。
"""

from __future__ import annotations

import http.client
import importlib.metadata
import os
import platform
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from packaging.version import InvalidVersion, Version

from course_utils.env import (CACHE_ENV, DATA_ENV, OFFLINE_ENV, QUICK_ENV, cache_dir, cache_setting,
                              data_dir_setting, flag_text, folder_problem, in_colab, is_offline,
                              is_quick, japanese_font_path, nearest_existing, os_error_reason,
                              parse_flag, resolve_data_dir, unknown_flag_message)
from course_utils.mnist_files import MIRRORS, data_dir_problem

# 講座のテストで確かめた版の範囲（下限は pyproject.toml、上限は CI で実行した最新の版）
TESTED = {
    "python": ("3.10", "3.13"),
    "torch": ("2.2", "2.14"),
    "torchvision": ("0.17", "0.29"),
    "timm": ("1.0", "1.0"),
    "ipywidgets": ("7.7", "8.1"),
    "matplotlib": ("3.7", "3.11"),
}
NEEDED_DISK_GB = 3.0  # MNIST（約 0.1 GB）と 07 の事前学習済みモデルの重み（9 個で約 2.5 GB）
HUB_URL = "https://huggingface.co"


@dataclass
class Finding:
    """点検の結果 1 つ。level は "ok"・"warning"・"problem" のどれか。"""

    level: str
    topic: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        mark = {"ok": "✓", "warning": "△", "problem": "✗"}[self.level]
        return f"{mark} {self.topic}: {self.message}" + (f"\n    → {self.fix}" if self.fix else "")


def _major_minor(version: str) -> Version:
    release = Version(version.split("+")[0]).release
    return Version(".".join(map(str, release[:2])))


def check_version(name: str, installed: str | None) -> Finding:
    """installed（None なら未インストール）が、講座で確かめた範囲に入っているかを調べる。"""
    low, high = TESTED[name]
    if installed is None:
        return Finding("problem", name, "入っていません。",
                       f"`pip install {name}` を実行し、カーネルを再起動してください。")
    try:
        version = _major_minor(installed)
    except InvalidVersion:
        return Finding("warning", name, f"版 {installed} を読めませんでした。")
    if version < Version(low):
        return Finding("problem", name, f"{installed} は古すぎます（講座は {low} 以上で確かめています）。",
                       f"`pip install -U {name}` で新しくしてください。")
    if version > Version(high):
        return Finding("warning", name, f"{installed} は講座で確かめた版（{high} まで）より新しい版です。",
                       "たいていは動きますが、エラーが出たら講座のリポジトリの issue で知らせてください。")
    return Finding("ok", name, installed)


def _installed(name: str) -> str | None:
    if name == "python":
        return platform.python_version()
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_device() -> Finding:
    """GPU が使えるかを調べる。Colab で GPU がなければ切り替え方を伝える。"""
    import torch

    if torch.cuda.is_available():
        return Finding("ok", "デバイス", f"GPU（{torch.cuda.get_device_name(0)}）")
    if in_colab():
        return Finding("warning", "デバイス", "GPU がありません（CPU で計算します）。",
                       "メニューの「ランタイム → ランタイムのタイプを変更」で T4 GPU を選び、"
                       "もう一度上から実行してください。")
    return Finding("ok", "デバイス", "CPU（GPU は見つかりませんでした。06 は CPU 用の小さな設定で学習します）")


def check_font() -> Finding:
    if japanese_font_path() is None:
        return Finding("problem", "日本語フォント", "japanize-matplotlib がないので、図の日本語が □ になります。",
                       "`pip install japanize-matplotlib` を実行し、カーネルを再起動してください。")
    return Finding("ok", "日本語フォント", "IPAex ゴシック（japanize-matplotlib に同梱）")


def check_disk(folder: Path | None = None, needed_gb: float = NEEDED_DISK_GB) -> Finding:
    """データと重みのキャッシュ置き場が使えるか（入れるか、書けるか）と、十分な空きがあるかを調べる。"""
    folder = Path(folder or cache_dir())
    fix = (f"環境変数 {CACHE_ENV} に、自分が読み書きできるフォルダを指定してください"
           f"（例: {CACHE_ENV}=~/dl-course-cache。{cache_setting()}）。")
    problem = folder_problem(folder, write=False)
    if problem:  # ファイルを指している、入れない: 読むことも書くこともできない
        return Finding("problem", "キャッシュ", f"{problem}。", fix)
    if folder_problem(folder, write=True):
        if is_offline():  # 講師が用意した読み取り専用の共有キャッシュ（教室の使い方）
            return Finding("ok", "キャッシュ", f"{folder}（読み取りのみ。オフラインなので、"
                           "キャッシュにあるものだけを使います）")
        return Finding("problem", "キャッシュ", f"{folder_problem(folder, write=True)}。"
                       "MNIST や重みをダウンロードしても保存できません。", fix)
    existing, _ = nearest_existing(folder)
    try:
        free_gb = shutil.disk_usage(existing).free / 1e9
    except (OSError, TypeError) as error:
        reason = os_error_reason(error) if isinstance(error, OSError) else type(error).__name__
        return Finding("warning", "空き容量", f"{folder} の空きを測れません: {reason}。")
    if free_gb < needed_gb:
        return Finding("problem", "空き容量", f"{folder} の空きが {free_gb:.1f} GB しかありません"
                       f"（{needed_gb:.0f} GB ほど必要です）。",
                       "不要なファイルを消すか、環境変数 COURSE_CACHE_DIR で空きのある場所を指定してください。")
    return Finding("ok", "空き容量", f"{folder}: {free_gb:.0f} GB の空き")


def check_data_dir() -> Finding | None:
    """COURSE_DATA_DIR があれば、MNIST の 4 つのファイルがそこにそろっているかを調べる（無ければ None）。

    無い・空・MNIST/raw そのものを指している、などを、直し方とともに伝える（ファイルは書き換えない）。
    """
    given = data_dir_setting()
    if given is None:
        return None
    problem = data_dir_problem(given)
    if problem:
        what, fix = problem
        return Finding("problem", "MNIST のフォルダ", what.replace("\n", "\n    "), fix)
    return Finding("ok", "MNIST のフォルダ",
                   f"{DATA_ENV}: {resolve_data_dir(given)}（4 つのファイルを確かめました）")


def check_settings() -> list[Finding]:
    """講座の環境変数（COURSE_QUICK・COURSE_OFFLINE）の値を読み、分からない値があれば注意を返す。"""
    labels = {QUICK_ENV: "クイックモード", OFFLINE_ENV: "オフライン"}
    findings, states, given = [], [], []
    for name, label in labels.items():
        value = os.environ.get(name)
        flag = parse_flag(value)
        if flag is None:
            findings.append(Finding("warning", "環境変数", unknown_flag_message(name, value)))
            flag = True
        states.append(f"{label} {'オン' if flag else 'オフ'}")
        if value is not None:
            given.append(flag_text(name))
    note = f"（{'、'.join(given)}）" if given else ""
    return [Finding("ok", "環境変数", "、".join(states) + note)] if not findings else findings


def check_url(topic: str, url: str, needed_for: str, timeout: float = 5.0) -> Finding:
    """url に届くかを調べる（中身は読まない）。"""
    try:
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # サーバーまでは届いている（403 などは届いた証拠）
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Finding("warning", topic, f"{url} に接続できません（{reason}）。",
                       f"{needed_for}ネットワークにつながっているか確かめてください。")
    return Finding("ok", topic, f"{url} に接続できます")


def _safely(topic: str, check: Callable[[], Finding | None]) -> Finding | None:
    """点検 1 つを行う。思わぬエラーでも例外を出さず、注意として返す（点検そのものは失敗しない約束）。"""
    try:
        return check()
    except Exception as error:  # noqa: BLE001 - 点検の一覧は最後まで出す
        return Finding("warning", topic, f"点検の途中でエラーになりました（{type(error).__name__}: {error}）。",
                       "講座のリポジトリの issue で、このメッセージを知らせてください。")


def preflight(network: bool = True) -> list[Finding]:
    """講座を始める前の点検をすべて行い、結果の一覧を返す（表示はしない）。"""
    findings = [check_version(name, _installed(name)) for name in TESTED]
    findings += check_settings()
    checks = [("デバイス", check_device), ("日本語フォント", check_font),
              ("空き容量", check_disk), ("MNIST のフォルダ", check_data_dir)]
    findings += [f for f in (_safely(topic, check) for topic, check in checks) if f is not None]
    if not network:
        return findings
    if is_quick():  # クイックモードはネットワークを使わない約束
        findings.append(Finding("ok", "ネットワーク", "クイックモードなので調べません（使いません）"))
    elif is_offline():  # オフラインの指定があれば、点検でもつながない
        findings.append(Finding("ok", "ネットワーク",
                                f"オフラインの指定（{flag_text(OFFLINE_ENV)}）があるので調べません（使いません）"))
    else:
        if data_dir_setting() is None:  # 手元にデータがあればミラーは要らない
            findings.append(check_url("MNIST のミラー", MIRRORS[0], "MNIST のダウンロードに要ります。"))
        findings.append(check_url("モデルのハブ", HUB_URL, "07 の事前学習済みモデルのダウンロードに要ります。"))
    return findings


def version_problems() -> list[Finding]:
    """版の点検のうち、問題か注意があるものだけを返す（各ノートブックの準備のセルで使う短い点検）。"""
    findings = [check_version(name, _installed(name)) for name in TESTED]
    return [f for f in findings if f.level != "ok"]


def report(findings: list[Finding]) -> None:
    """点検の結果を表示し、最後に 1 行でまとめる。"""
    for finding in findings:
        print(finding)
    problems = sum(f.level == "problem" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    if problems:
        print(f"\n✗ 直すべき問題が {problems} 件あります。→ の指示に従ってください。")
    elif warnings:
        print(f"\n△ 注意が {warnings} 件あります。講座は進められますが、→ の指示も読んでください。")
    else:
        print("\n✓ すべて問題ありません。")
