"""00 はじめに（notebooks/00_setup.ipynb）の演習: 画素を数える、写真の左右反転、グレースケール。"""

from __future__ import annotations

from typing import Any

import torch

from .core import AnswerProblem, Exercise, Problem, describe, number, pair, tensor


def check_nonzero_pixels(answer: Any) -> Problem:
    from course_utils.data import load_mnist  # 今のモード（クイックか通常か）のデータで確かめる

    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return (f"check(ラベル, 画素の数) のように 2 つの数を渡してください"
                f"（渡されたもの: {describe(answer)}）。")
    label, count = number(answer[0], "ラベル"), number(answer[1], "画素の数")
    test_set = load_mnist(train=False, normalize=None)
    image = test_set.data[1]
    if label != int(test_set.targets[1]):
        if label == int(test_set.targets[0]):
            return "それは 1 枚目（添字 0）のラベルです。添字は 0 から数えます。"
        return "ラベルが違います。test_set.targets の添字 1 を見ましょう。"
    if count == image.numel():
        return "ラベルは合っています。画素の数は、全画素ではなく値が 0 でないものだけを数えます。"
    if count != int((image > 0).sum()):
        return "ラベルは合っています。値が 0 でない画素の数が違います（> 0 で比べて数えます）。"
    return None


def _photo(value: Any) -> torch.Tensor:
    photo = tensor(value, "1 つ目の photo")
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise AnswerProblem(f"1 つ目には元の写真 photo（形 (高さ, 幅, 3) の配列）を渡してください"
                            f"（渡されたもの: {describe(value)}）。")
    return photo


def check_flip(answer: Any) -> Problem:
    photo_value, flipped_value = pair(answer, "check(photo, flipped)")
    photo, flipped = _photo(photo_value), tensor(flipped_value, "2 つ目の flipped")
    if flipped.shape != photo.shape:
        return f"形が {tuple(flipped.shape)} です。反転しても形は {tuple(photo.shape)} のままです。"
    if torch.equal(flipped, photo.flip(1)):
        return None
    if torch.equal(flipped, photo.flip(0)):
        return "上下が反転しています。左右の反転は幅の軸（2 つ目の軸）を逆順にします。"
    if torch.equal(flipped, photo.flip(2)):
        return "色の順番（R, G, B）が逆になっています。逆順にするのは幅の軸です。"
    return "左右を反転した画像になっていません。"


def check_gray(answer: Any) -> Problem:
    photo_value, gray_value = pair(answer, "check(photo, gray)")
    photo, gray = _photo(photo_value), tensor(gray_value, "2 つ目の gray")
    if gray.shape != photo.shape[:2]:
        return (f"形が {tuple(gray.shape)} です。チャンネルの軸が消えて "
                f"{tuple(photo.shape[:2])} になるはずです。")
    if not torch.isfinite(gray).all():
        return "nan や inf が含まれています。計算の途中で 0 で割っていないか確かめてください。"
    expected = photo @ torch.tensor([0.299, 0.587, 0.114])
    if torch.allclose(gray, expected, atol=0.5):
        return None
    if torch.allclose(gray, photo.mean(dim=2), atol=0.5):
        return "3 つのチャンネルの単純な平均になっています。重み 0.299, 0.587, 0.114 を使います。"
    return "値が違います。R, G, B にそれぞれ 0.299, 0.587, 0.114 を掛けて足します。"


def questions() -> dict[str, Exercise]:
    return {
        "q1": Exercise(
            "2 枚目のラベルと 0 でない画素の数", check_nonzero_pixels,
            ["2 枚目は添字 1 です（0 から数えます）。ラベルは test_set.targets にあります。",
             "(test_set.data[1] > 0) は 0 でない画素で True になります。.sum() で数えられます。"],
            "label = test_set.targets[1].item()\ncount = (test_set.data[1] > 0).sum().item()",
            expects="check(label, count) のように、ラベルと画素の数の 2 つの数"),
        "q2": Exercise(
            "写真の左右反転", check_flip,
            ["形 (H, W, 3) のうち、幅はどの軸でしょうか。",
             "スライス ::-1 で逆順にできます。photo[:, ::-1] は 2 つ目の軸を逆順にします。"],
            "flipped = photo[:, ::-1]",
            expects="check(photo, flipped) のように、元の写真と左右反転した配列の 2 つ"),
        "q3": Exercise(
            "グレースケールへの変換", check_gray,
            ["R, G, B に重みを掛けて足すと、1 つの明るさになります。",
             "photo @ np.array([0.299, 0.587, 0.114]) で、最後の軸について重み付きの和がとれます。"],
            "gray = photo @ np.array([0.299, 0.587, 0.114])  # 形は (H, W)",
            expects="check(photo, gray) のように、元の写真とグレースケールの配列の 2 つ"),
    }
