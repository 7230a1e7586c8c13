"""描いた数字の線のデータ course_utils/drawn_digits.json を作る（04 と 06 の DigitPad の測定用）。

人が描いたものではありません。数字ごとの手本の線（円弧と折れ線）を、このスクリプトが
乱数で大きさ・縦横比・傾き・回転・位置・手ぶれを変えて、280×280 の枠に描いたものです。
MNIST の前処理（20×20 に収めて、重心を MNIST の数字と同じ位置に置く）を知らずにマウスで描いた数字のように、
枠の端に寄ったもの・小さいもの・大きいものを含めるのが目的です。
人が描いた数字で測り直したいときは、DigitPad の「例として保存」で作った JSON を同じ形で使えます。

    .venv/bin/python scripts/make_drawn_digits.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

OUTPUT = Path(__file__).resolve().parents[1] / "course_utils" / "drawn_digits.json"
SIZE = 280
PER_CLASS = 20
SEED = 0


def arc(cx, cy, rx, ry, start_deg, end_deg, n=16):
    """画面の向き（y は下向き）の楕円弧。角度 −90° が上、0° が右、90° が下。"""
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def line(*points):
    return list(points)


# 1 × 1 の枠の中の手本（x は右、y は下）。数字ごとに、線（ペンを下ろしてから上げるまで）のリスト。
TEMPLATES = {
    0: [arc(0.5, 0.5, 0.3, 0.45, -90, 270, 24)],
    1: [line((0.35, 0.2), (0.52, 0.05), (0.52, 0.95))],
    2: [arc(0.5, 0.3, 0.28, 0.25, -170, 30, 14) + line((0.2, 0.95), (0.82, 0.95))],
    3: [arc(0.5, 0.28, 0.27, 0.23, -160, 90, 14) + arc(0.5, 0.72, 0.3, 0.25, -90, 160, 14)[1:]],
    4: [line((0.62, 0.05), (0.15, 0.65), (0.85, 0.65)), line((0.62, 0.3), (0.62, 0.95))],
    5: [line((0.75, 0.05), (0.32, 0.05), (0.28, 0.45)) + arc(0.48, 0.68, 0.3, 0.27, -125, 150, 14)],
    6: [line((0.7, 0.05), (0.42, 0.22), (0.28, 0.5)) + arc(0.5, 0.72, 0.23, 0.22, 180, -180, 18)],
    7: [line((0.18, 0.08), (0.82, 0.08), (0.42, 0.95))],
    8: [arc(0.5, 0.27, 0.22, 0.22, 90, 450, 18), arc(0.5, 0.72, 0.27, 0.24, -90, 270, 18)],
    9: [arc(0.5, 0.3, 0.25, 0.24, 0, 360, 18) + line((0.74, 0.4), (0.7, 0.95))],
}


def draw(template, rng):
    """手本 1 つを、乱数で変えて 280×280 の枠の座標の線にする。"""
    height = rng.uniform(0.35, 0.85) * SIZE
    width = height * rng.uniform(0.75, 1.2)
    slant = rng.uniform(-0.25, 0.25)
    angle = math.radians(rng.uniform(-10, 10))
    strokes = []
    for stroke in template:
        points = []
        for x, y in stroke:
            x = (x - 0.5 + slant * (0.5 - y)) * width  # 傾けてから大きさを変える（中心が原点）
            y = (y - 0.5) * height
            x, y = x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle)
            points.append((x + rng.normal(0, 1.5), y + rng.normal(0, 1.5)))
        strokes.append(points)
    xs = [x for s in strokes for x, _ in s]
    ys = [y for s in strokes for _, y in s]
    margin = 12  # 線の太さの半分より少し大きく
    # 枠に収まる範囲で、置く場所を一様に選ぶ（端に寄ったものも出る）
    dx = rng.uniform(margin - min(xs), SIZE - margin - max(xs))
    dy = rng.uniform(margin - min(ys), SIZE - margin - max(ys))
    return [[[round(x + dx), round(y + dy)] for x, y in s] for s in strokes]


def main() -> None:
    rng = np.random.default_rng(SEED)
    digits = [{"label": label, "strokes": draw(TEMPLATES[label], rng)}
              for _ in range(PER_CLASS) for label in range(10)]
    OUTPUT.write_text(json.dumps({
        "about": ("scripts/make_drawn_digits.py が作った、描いた数字の線（人が描いたものではない）。"
                  f"280×280 の枠の座標。各数字 {PER_CLASS} 個、乱数の種 {SEED}。"),
        "digits": digits}, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{len(digits)} 個 → {OUTPUT}（{OUTPUT.stat().st_size / 1024:.0f} KB）")


if __name__ == "__main__":
    main()
