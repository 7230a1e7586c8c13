"""本文（Markdown セル）の検査: 改行、数値の出どころ、用語と引用の書き方。

数値の決まり（README の「開発に参加する方へ」に同じ説明があります）:
本文に書いた百分率・時間・速さの倍率・データの大きさは、次のどれかでなければなりません。

1. 実行の結果: コードセルが ``display(Markdown(f"..."))`` で表示するもの。Markdown セルには書きません。
2. 出典のある事実: 同じ文に出典（``Krizhevsky et al., NIPS 2012`` のような著者と年、
   ``出典:``、またはリンク）を書きます。
3. 定義や設定で決まる値: 数の直後に ``<!-- 定義 -->`` か ``<!-- 設定 -->`` を書きます
   （表示されません）。当て推量の 50 % や 1 MB = 10⁶ バイトが「定義」、コードで設定した
   ドロップアウトの 20 % が「設定」です。「設定」の値は、そのノートブックのコードに現れる
   ことも確かめます。
"""

import re

import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

CJK = r"\u3000-\u303f\u3040-\u30ff\u4e00-\u9fff\uff00-\uffef"
# 段落の続きではない行（箇条書き・見出し・表・引用・HTML・数式・コード）
STRUCTURE = re.compile(r"^\s*([-*+]\s|\d+\.\s|#|\||>|<|\$\$|```|!\[)")

NUMBER = r"\d[\d,]*(?:\.\d+)?"
# 百分率・割合・時間・速さの倍率・大きさ。「6 分の 1」「分かれる」などの「分」は時間ではない。
# 「十数秒」「数十秒」のような漢数字の時間も数える
MINUTE = "分(?![のかけ類割布散野岐解析母子離量])"
QUANTITY = re.compile(
    rf"(?P<number>{NUMBER}|[一二三四五六七八九十]*数[一二三四五六七八九十]*(?=秒|{MINUTE}|割))\s*"
    rf"(?P<unit>%|％|割|秒|ミリ秒|ms|時間|{MINUTE}|倍(?=速|遅)|GB|MB|KB)"
)
MARKER = re.compile(r"\s*[）)]?\s*<!--\s*(?P<kind>定義|設定)\s*-->")
CITATION = re.compile(
    r"出典|\]\(https?://|"
    r"[A-Z][A-Za-z\-]+(?: et al\.| & [A-Z][A-Za-z\-]+)?,? [^。|]{0,40}?(?:19|20)\d\d"
)


def markdown_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [(i, cell.source) for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"]


def code_text(path):
    nb = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")


def sentences(text):
    """文ごと（表の行は行ごと）に分ける。数と出典が同じ文にあるかを調べるため。"""
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            yield line
            continue
        for sentence in re.split(r"(?<=。)", line):
            if sentence.strip():
                yield sentence


def unsupported_numbers(text, code=""):
    """出どころの分からない数（と、コードに現れない「設定」の数）を返す。"""
    found = []
    for sentence in sentences(text):
        cited = CITATION.search(sentence)
        for match in QUANTITY.finditer(sentence):
            marker = MARKER.match(sentence, match.end())
            if marker:
                if marker["kind"] == "設定" and not _appears_in_code(match, code):
                    found.append(f"{match[0]}（設定とあるがコードにない）")
                continue
            if not cited:
                found.append(f"{match[0]}: {sentence.strip()[:80]}")
    return found


def _appears_in_code(match, code):
    try:
        value = float(match["number"].replace(",", ""))
    except ValueError:  # 漢数字
        return False
    candidates = {value}
    if match["unit"] in ("%", "％"):
        candidates.add(value / 100)
    if match["unit"] == "割" and value:
        candidates |= {value / 10, 10 / value}  # 「1 割」は 0.1 か「// 10」
    literals = {float(x) for x in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?(?![\w.])", code)}
    return any(abs(c - lit) < 1e-12 for c in candidates for lit in literals)


def soft_breaks(text):
    """日本語の段落の途中にある改行（表示では空白になる）を返す。"""
    found = []
    in_block = False
    lines = text.split("\n")
    for a, b in zip(lines, lines[1:]):
        if a.strip().startswith(("```", "$$")) and not (a.strip().endswith("$$") and len(a.strip()) > 2):
            in_block = not in_block
        if in_block or not a.strip() or not b.strip() or STRUCTURE.match(b):
            continue
        if a.lstrip().startswith(("#", "|")) or a.endswith("  ") or a.rstrip().endswith("$$"):
            continue
        if re.search(f"[{CJK}]$", a.rstrip()) and re.match(f"[{CJK}]", b.strip()):
            found.append(f"…{a.rstrip()[-15:]}⏎{b.strip()[:15]}…")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_japanese_paragraphs_have_no_line_break(path):
    problems = [f"セル {i}: {b}" for i, text in markdown_cells(path) for b in soft_breaks(text)]
    assert not problems, "段落の途中の改行は表示で空白になります:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_numbers_in_prose_are_measured_or_cited(path):
    code = code_text(path)
    problems = [f"セル {i}: {n}" for i, text in markdown_cells(path) for n in unsupported_numbers(text, code)]
    assert not problems, "本文の数値は実行結果から表示するか、出典か <!-- 定義 --> / <!-- 設定 --> を付けます:\n" + "\n".join(problems)


def test_the_number_rule_catches_typed_results():
    # 実行結果を手で書いた文は見逃さない
    assert unsupported_numbers("このモデルの検証正解率は 97.5 % でした。")
    assert unsupported_numbers("1 エポックに 12 秒かかります。")
    assert unsupported_numbers("channels_last で 2 割ほど、1.3 倍速くなります。")
    assert unsupported_numbers("重みは 1.2 GB です。")
    assert unsupported_numbers("1 エポック十数秒で終わります。")
    assert unsupported_numbers("畳み込みの学習が 2 割ほど速くなりました。")
    # 出典のある事実、定義、コードにある設定は通す
    assert not unsupported_numbers("top-5 誤り率は 15.3 %（Krizhevsky et al., NIPS 2012）です。")
    assert not unsupported_numbers("当て推量なら 50 %<!-- 定義 --> です。")
    assert not unsupported_numbers("20 %<!-- 設定 --> のユニットを 0 にします。", "nn.Dropout(0.2)")
    assert unsupported_numbers("30 %<!-- 設定 --> のユニットを 0 にします。", "nn.Dropout(0.2)")
    # 時間ではない「分」
    assert not unsupported_numbers("訓練データの 6 分の 1 を検証に使います。")
    assert not unsupported_numbers("基本文法を知っていれば十分です。")


def test_the_line_break_rule():
    assert soft_breaks("日本語の文が\n途中で改行されています。")
    assert not soft_breaks("1 行目です。\n\n2 段落目です。")
    assert not soft_breaks("説明です。\n- 箇条書き")
    assert not soft_breaks("## 見出し\n本文です。")


def _prose(path):
    return "\n".join(text for _, text in markdown_cells(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_terms_and_citations_are_consistent(path):
    prose = _prose(path)
    code = code_text(path)
    # 用語: accuracy は「正解率」、cosine は「コサイン」
    assert "精度" not in prose.replace("混合精度", "").replace("半精度", "").replace("単精度", ""), "accuracy は「正解率」と書きます"
    assert "余弦" not in prose + code, "cos は「コサイン」と書きます"
    # 引用: 「著者 et al., 会場 年」。会場の名前は当時のもの（2017 年までは NIPS、2018 年から NeurIPS）
    assert not re.search(r"[A-Z][a-z]+ ら[ ,、]", prose), "本文の引用は「著者 et al., 会場 年」と書きます"
    for venue, year in re.findall(r"\b(NIPS|NeurIPS)\*?,? (\d{4})", prose):
        expected = "NIPS" if int(year) <= 2017 else "NeurIPS"
        assert venue == expected, f"{venue} {year} は {expected} {year} と書きます"


@pytest.mark.parametrize("name", ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))])
def test_documents_have_no_line_break_inside_japanese_paragraphs(name):
    problems = soft_breaks((ROOT / name).read_text(encoding="utf-8"))
    assert not problems, f"{name}: 段落の途中の改行は表示で空白になります:\n" + "\n".join(problems)
