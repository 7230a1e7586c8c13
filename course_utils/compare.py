"""2 つの学習を同じ検証画像で比べ、差が「揺れ」を超えるかを判定して日本語の文にする（02・05・06・08）。

講座で「揺れ」と書くときは、**差の標準誤差の 2 倍**（NOISE_SE 倍。標準誤差は、差がないとしたときの
√(b + c)/n）を指す。シードだけを変えた学習の差も測ってあるとき（06）は、その差と標準誤差の 2 倍の
大きいほうを揺れとし、文にもそう書く。判定の規則はここに 1 回だけ書き、どのノートブックもこれを使う:

1. 片方だけが正解した画像の数 b（A だけ）と c（B だけ）を、繰り返した学習（シード・試行）の分まで合計する。
2. 差 (c − b)/n が揺れ 2√(b + c)/n を超え、しかも厳密な符号検定（McNemar の検定の厳密版）の
   両側 p 値が ALPHA 未満のときだけ、差がある候補とする（5 枚対 0 枚は p = 0.0625 なので決めない）。
3. 学習を 2 回以上繰り返したときは、どの回でも同じ側が上でなければ決めない（シードの揺れ）。
4. 学習が 1 回だけのときは、シードの揺れを別に見積もって渡さない限り「1 回では決められない」とする。

同じ検証画像を何回もの学習で数え直して合計するので、合計での p 値は楽観的になる。3. の「どの回でも
同じ側が上」という条件は、それを補うためでもある。
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

NOISE_SE = 2    # 揺れ = 差の標準誤差の何倍か（講座全体でこの 1 つ）
ALPHA = 0.05    # 厳密な符号検定の有意水準（両側）

STATUS_TEXT = {
    "tie": "同じ",
    "within_noise": "揺れの範囲",
    "too_few": "画像が少なく決められない",
    "seeds_disagree": "くり返すと入れ替わる",
    "one_run": "1 回では決められない",
    "decided": "差あり",
}


def sign_test_p(only_a: int, only_b: int) -> float:
    """片方だけが正解した数 only_a と only_b の、厳密な両側の符号検定の p 値（偶然なら半々）。"""
    only_a, only_b = int(only_a), int(only_b)
    if only_a < 0 or only_b < 0:
        raise ValueError("枚数は 0 以上の整数にしてください")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


def _as_runs(correct) -> list[torch.Tensor]:
    """1 回分の正誤 (N,) か、その並び（試行ごと）を、bool のテンソルのリストにする。"""
    if hasattr(correct, "ndim"):  # テンソルか NumPy の配列: 1 次元なら 1 回分、2 次元なら試行ごとの行
        correct = torch.as_tensor(correct)
        runs = [correct] if correct.dim() == 1 else list(correct)
    else:
        runs = [torch.as_tensor(c) for c in correct]
    if not runs:
        raise ValueError("比べる学習の正誤が 1 回分もありません")
    return [torch.as_tensor(r).flatten().bool().cpu() for r in runs]


@dataclass
class Comparison:
    """compare_runs の結果。正解率は 0〜1、diff と noise はポイント（B − A）。"""

    name_a: str
    name_b: str
    acc_a: float          # A の正解率（試行の平均）
    acc_b: float
    only_a: int           # A だけが正解した画像の数（全試行の合計）
    only_b: int
    images: int           # 比べた画像の数（全試行の合計）
    runs: int             # 組にした学習の回数
    runs_b_ahead: int     # B の正解率のほうが高かった回数
    runs_a_ahead: int
    diff: float           # (only_b − only_a)/images をポイントで（B が上なら正）
    noise: float          # 揺れ: 差の標準誤差の NOISE_SE 倍と、渡されたシードの揺れの大きいほう
    p_value: float        # 厳密な符号検定の両側 p 値
    seed_noise: float | None
    status: str           # STATUS_TEXT のキー
    unit: str = "試行"     # くり返しの呼び方（05 は「シード」）

    @property
    def winner(self) -> str | None:
        """差があると決められたときの上の側の名前。決められなければ None。"""
        if self.status != "decided":
            return None
        return self.name_b if self.diff > 0 else self.name_a

    @property
    def loser(self) -> str | None:
        if self.status != "decided":
            return None
        return self.name_a if self.diff > 0 else self.name_b

    def sentence(self) -> str:
        """判定を日本語の 1〜2 文にする（どの結果にも文がある）。"""
        return describe(self)


def compare_runs(correct_a, correct_b, name_a: str = "A", name_b: str = "B",
                 seed_noise: float | None = None, unit: str = "試行") -> Comparison:
    """同じ画像で測った 2 つの学習の正誤（1 回分 (N,) か試行ごとのリスト）を比べる。

    試行 k の A と B は同じ画像で測ったものを組にする。seed_noise（ポイント）を渡すと、
    揺れはそれと標準誤差の 2 倍の大きいほうになり、1 回ずつの学習でも判定する（06）。
    unit は、くり返しを文の中で何と呼ぶか（「試行」「シード」）。
    """
    runs_a, runs_b = _as_runs(correct_a), _as_runs(correct_b)
    if len(runs_a) != len(runs_b):
        raise ValueError(f"A と B の試行の回数が違います（{len(runs_a)} 回と {len(runs_b)} 回）")
    for a, b in zip(runs_a, runs_b):
        if a.shape != b.shape:
            raise ValueError(f"同じ画像で測った正誤を渡してください（形 {tuple(a.shape)} と {tuple(b.shape)}）")
    only_a = sum(int((a & ~b).sum()) for a, b in zip(runs_a, runs_b))
    only_b = sum(int((~a & b).sum()) for a, b in zip(runs_a, runs_b))
    images = sum(len(a) for a in runs_a)
    acc_a = sum(a.float().mean().item() for a in runs_a) / len(runs_a)
    acc_b = sum(b.float().mean().item() for b in runs_b) / len(runs_b)
    per_run = [int(b.sum()) - int(a.sum()) for a, b in zip(runs_a, runs_b)]
    diff = 100 * (only_b - only_a) / images
    noise = 100 * NOISE_SE * math.sqrt(only_a + only_b) / images
    if seed_noise is not None:
        noise = max(noise, float(seed_noise))
    p_value = sign_test_p(only_a, only_b)
    runs_b_ahead = sum(d > 0 for d in per_run)
    runs_a_ahead = sum(d < 0 for d in per_run)
    if only_a == only_b:
        status = "tie"
    elif abs(diff) <= noise:
        status = "within_noise"
    elif p_value >= ALPHA:
        status = "too_few"
    elif len(per_run) > 1 and not (runs_b_ahead == len(per_run) or runs_a_ahead == len(per_run)):
        status = "seeds_disagree"
    elif len(per_run) == 1 and seed_noise is None:
        status = "one_run"
    else:
        status = "decided"
    return Comparison(name_a, name_b, acc_a, acc_b, only_a, only_b, images, len(per_run),
                      runs_b_ahead, runs_a_ahead, diff, noise, p_value, seed_noise, status, unit)


def p_text(p: float) -> str:
    """p 値を本文に書く形（0.0625、1 × 10⁻⁶ 未満など）にする。"""
    if p < 1e-6:
        return "1 × 10⁻⁶ 未満"
    if p < 0.001:
        return sci(p, 1)
    return f"{p:.3g}"


def describe(c: Comparison) -> str:
    """Comparison を日本語の文にする。数は c の値から作る。"""
    counts = (f"「{c.name_a}」だけが正解した画像が {c.only_a:,} 枚、"
              f"「{c.name_b}」だけが正解した画像が {c.only_b:,} 枚")
    if c.runs > 1:
        counts += f"（{c.unit} {c.runs} 回の合計）"
    if c.status == "tie":
        return f"{counts}で、差は 0 です。この比べ方では同じ正解率でした。"
    high, low = (c.name_b, c.name_a) if c.diff > 0 else (c.name_a, c.name_b)
    gap = abs(c.diff)
    noise_kind = ("差の標準誤差の 2 倍と、シードを変えただけの差の大きいほう"
                  if c.seed_noise is not None else "差の標準誤差の 2 倍")
    head = (f"{counts}で、「{high}」が {gap:.2f} ポイント高い結果でした"
            f"（揺れ {c.noise:.2f} ポイント: {noise_kind}）。")
    if c.status == "within_noise":
        return head + "差は揺れ以内なので、どちらが上とも言えません。"
    if c.status == "too_few":
        return (head + "差は揺れを超えていますが、片方だけが正解した画像が少ないので、厳密な符号検定でも確かめました。"
                f"p = {p_text(c.p_value)} で、偶然でも起こりうる差です。どちらが上とも言えません。")
    if c.status == "seeds_disagree":
        ahead = c.runs_b_ahead if high == c.name_b else c.runs_a_ahead
        return (head + f"ただし{c.unit}ごとに見ると「{high}」が上だったのは {c.runs} 回のうち {ahead} 回で、"
                f"{c.unit}によって順位が入れ替わりました。どちらが上とは決められません。")
    if c.status == "one_run":
        return (head + "差は揺れを超えていますが、それぞれ 1 回しか学習していないので、"
                "試行やシード（初期値とデータの順番）を変えたときに同じ順になるかは分かりません。1 回の学習では決められません。")
    if c.runs > 1:
        return (head + f"差は揺れを超え、{c.unit} {c.runs} 回のどれでも「{high}」が上でした。"
                f"「{high}」のほうが高いと言えます。")
    return (head + f"差は揺れを超えています（厳密な符号検定で p = {p_text(c.p_value)}）。"
            f"「{high}」のほうが高いと言えます。")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(value: float, digits: int = 1) -> str:
    """数を本文に書く形にする: 0.01〜9999 はふつうの小数（0.83）、それ以外は指数の形（7.5 × 10⁻¹⁸）。

    digits は指数の形で小数点の後に書く桁数。0 と数でない値はそのまま書く。
    """
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    power = int(exponent)
    if -2 <= power <= 3:
        return f"{value:.{max(0, digits - power)}f}"
    return f"{mantissa} × 10{str(power).translate(_SUPERSCRIPT)}"
