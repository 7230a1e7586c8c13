"""同梱の ImageNet-1k のクラス名（日本語と英語）が、timm のクラスの順番とそろっていることを確かめる。"""

import re

from timm.data import ImageNetInfo

from course_utils.imagenet import NAMES_FILE, imagenet_classes


def test_exactly_1000_non_empty_entries_aligned_with_timm():
    classes = imagenet_classes()
    info = ImageNetInfo()
    assert len(classes) == info.num_classes() == 1000
    for k, c in enumerate(classes):
        assert c.index == k
        assert c.wnid == info.index_to_label_name(k), k
        assert c.english == info.index_to_description(k), k
        assert c.japanese.strip() == c.japanese and c.japanese, k


def test_every_japanese_name_is_distinct_short_and_japanese():
    names = [c.japanese for c in imagenet_classes()]
    assert len(set(names)) == 1000  # 同じ英語名の 2 クラス（crane など）も見分けられる
    latin_only = {"ATM", "iPod"}  # 日本語でもこう書く略語と商品名
    for name in names:
        assert len(name) <= 25, name
        assert name in latin_only or re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", name), name
        assert not re.search(r"[()（）]", name), name


def test_the_ambiguous_english_names_get_different_japanese_names():
    classes = imagenet_classes()
    assert classes[134].english == classes[517].english == "crane"
    assert (classes[134].japanese, classes[517].japanese) == ("ツル", "クレーン")
    assert classes[281].label == "キジトラ猫（tabby）"


def test_file_has_a_header_and_four_tab_separated_columns():
    lines = NAMES_FILE.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if not line.startswith("#")]
    assert rows[0] == "index\twnid\tenglish\tjapanese"
    assert all(len(row.split("\t")) == 4 for row in rows[1:]) and len(rows) == 1001
