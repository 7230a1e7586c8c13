"""ImageNet-1k の 1,000 クラスの名前（英語と日本語）。講座に同梱の imagenet_ja.tsv を読む。"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NAMES_FILE = Path(__file__).with_name("imagenet_ja.tsv")
NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClass:
    """ImageNet-1k のクラス 1 つ。english は WordNet の見出し語（カンマ区切り）。"""

    index: int
    wnid: str
    english: str
    japanese: str

    @property
    def english_short(self) -> str:
        """英語名の最初の 1 語句（"tabby, tabby cat" なら "tabby"）。"""
        return self.english.split(",")[0]

    @property
    def label(self) -> str:
        """表示用の名前: 「和名（英語名）」。"""
        return f"{self.japanese}（{self.english_short}）"


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """1,000 クラスを、モデルの出力の番号順に返す。"""
    rows = []
    with open(NAMES_FILE, encoding="utf-8") as names:
        for line in names:
            if line.startswith("#") or line.startswith("index\t"):
                continue
            index, wnid, english, japanese = line.rstrip("\n").split("\t")
            rows.append(ImageNetClass(int(index), wnid, english, japanese))
    if [row.index for row in rows] != list(range(NUM_CLASSES)):
        raise ValueError(f"{NAMES_FILE} のクラスが 0〜999 の順に 1,000 個並んでいません")
    return tuple(rows)
