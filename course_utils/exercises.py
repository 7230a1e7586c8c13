"""演習の答え合わせ: ex = exercises("01") のあと ex.q1.check(答え)、ex.q1.hint()、ex.q1.solution()。

答えはいつも引数で渡す（ノートブックの変数をこっそり読むことはしない）。
check は何が違うかを日本語で言い、答えそのものは言わない。
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

import torch
from torch import nn

Problem = str | None  # 正解なら None、違えば何が違うかの説明


class _Unanswered(Exception):
    """答えがまだ書かれていない（None のまま）。"""


@dataclass
class Exercise:
    """1 問ぶんの演習。checker は答えを受け取り、正解なら None、違えば説明を返す。"""

    title: str
    checker: Callable[[Any], Problem]
    hints: list[str]
    answer: str
    _hints_shown: int = field(default=0, repr=False)

    def evaluate(self, answer: Any) -> tuple[bool, str]:
        """(正解か, 表示する文) を返す（check の中身。テストでも使う）。"""
        try:
            if answer is None:
                raise _Unanswered
            problem = self.checker(answer)
        except _Unanswered:
            return False, "まだ答えが入っていません。None の所を自分の答えに書き換えてください。"
        except Exception as error:  # 学習者のコードの誤りを、講座の誤りと区別して伝える
            return False, (f"答えを調べる途中でエラーになりました: "
                           f"{type(error).__name__}: {error}")
        if problem is None:
            return True, f"✓ 正解です（{self.title}）。"
        return False, f"✗ {problem}"

    def check(self, *answers: Any) -> None:
        """答えを調べて結果を表示する。答えが 2 つ以上の問題は check(答え1, 答え2) と渡す。"""
        answer = answers[0] if len(answers) == 1 else (answers or None)
        if isinstance(answer, tuple) and any(a is None for a in answer):
            answer = None
        correct, message = self.evaluate(answer)
        print(message)
        if not correct and self._hints_shown < len(self.hints):
            print("行き詰まったら .hint() でヒントを表示できます。")

    def hint(self) -> None:
        """ヒントを 1 つ表示する。呼ぶたびに、より具体的なヒントになる。"""
        k = min(self._hints_shown, len(self.hints) - 1)
        print(f"ヒント {k + 1}/{len(self.hints)}: {self.hints[k]}")
        self._hints_shown = k + 1

    def solution(self) -> None:
        """解答例を表示する。"""
        print(f"解答例（{self.title}）:\n{self.answer}")


# --- 答えを調べる小さな道具 ---------------------------------------------------

def _number(answer: Any) -> float:
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return float(answer)
    # numbers.Real は int・float に加えて NumPy の数（np.int64(8) など）も含む
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool):
        return float(answer)
    raise TypeError(f"数を 1 つ渡してください（渡されたもの: {type(answer).__name__}）")


def _count(expected: int, mistakes: dict[int, str]) -> Callable[[Any], Problem]:
    """整数の答え（パラメータ数など）を調べる。よくある間違いには専用の説明を返す。"""
    def check(answer: Any) -> Problem:
        value = _number(answer)
        if value != int(value):
            return f"{value:g} は整数ではありません。数えられるものの数を答えてください。"
        if value == expected:
            return None
        return mistakes.get(int(value), f"{int(value):,} ではありません。式をもう一度確かめてください。")
    return check


def _call(function: Any, *args: Any) -> Any:
    if not callable(function):
        raise TypeError("関数そのもの（名前だけ、かっこなし）を渡してください。")
    result = function(*args)
    if result is None:
        raise _Unanswered
    return result


def _tensor(value: Any) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float32)


# --- 00 はじめに ----------------------------------------------------------------

def _check_nonzero_pixels(answer: Any) -> Problem:
    from course_utils.data import load_mnist  # 今のモード（クイックか通常か）のデータで確かめる

    if not isinstance(answer, tuple) or len(answer) != 2:
        return "check(ラベル, 画素の数) のように 2 つの数を渡してください。"
    label, count = map(_number, answer)
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


def _check_flip(answer: Any) -> Problem:
    photo, flipped = (torch.as_tensor(a.copy() if hasattr(a, "copy") else a) for a in answer)
    if flipped.shape != photo.shape:
        return f"形が {tuple(flipped.shape)} です。反転しても形は {tuple(photo.shape)} のままです。"
    if torch.equal(flipped, photo.flip(1)):
        return None
    if torch.equal(flipped, photo.flip(0)):
        return "上下が反転しています。左右の反転は幅の軸（2 つ目の軸）を逆順にします。"
    if torch.equal(flipped, photo.flip(2)):
        return "色の順番（R, G, B）が逆になっています。逆順にするのは幅の軸です。"
    return "左右を反転した画像になっていません。"


def _check_gray(answer: Any) -> Problem:
    photo, gray = (_tensor(a) for a in answer)
    if gray.shape != photo.shape[:2]:
        return (f"形が {tuple(gray.shape)} です。チャンネルの軸が消えて "
                f"{tuple(photo.shape[:2])} になるはずです。")
    expected = photo @ torch.tensor([0.299, 0.587, 0.114])
    if torch.allclose(gray, expected, atol=0.5):
        return None
    if torch.allclose(gray, photo.mean(dim=2), atol=0.5):
        return "3 つのチャンネルの単純な平均になっています。重み 0.299, 0.587, 0.114 を使います。"
    return "値が違います。R, G, B にそれぞれ 0.299, 0.587, 0.114 を掛けて足します。"


def _lesson00() -> SimpleNamespace:
    return SimpleNamespace(
        q1=Exercise(
            "2 枚目のラベルと 0 でない画素の数", _check_nonzero_pixels,
            ["2 枚目は添字 1 です（0 から数えます）。ラベルは test_set.targets にあります。",
             "(test_set.data[1] > 0) は 0 でない画素で True になります。.sum() で数えられます。"],
            "label = test_set.targets[1].item()\ncount = (test_set.data[1] > 0).sum().item()"),
        q2=Exercise(
            "写真の左右反転", _check_flip,
            ["形 (H, W, 3) のうち、幅はどの軸でしょうか。",
             "スライス ::-1 で逆順にできます。photo[:, ::-1] は 2 つ目の軸を逆順にします。"],
            "flipped = photo[:, ::-1]"),
        q3=Exercise(
            "グレースケールへの変換", _check_gray,
            ["R, G, B に重みを掛けて足すと、1 つの明るさになります。",
             "photo @ np.array([0.299, 0.587, 0.114]) で、最後の軸について重み付きの和がとれます。"],
            "gray = photo @ np.array([0.299, 0.587, 0.114])  # 形は (H, W)"),
    )


# --- 01 ソフトマックス回帰 ------------------------------------------------------

def _check_softmax(softmax: Any) -> Problem:
    z = torch.tensor([2.0, 1.0, 0.1])
    p = _tensor(_call(softmax, z))
    if p.shape != z.shape:
        return f"出力の形が {tuple(p.shape)} です。入力と同じ {tuple(z.shape)} になるはずです。"
    if not torch.isclose(p.sum(), torch.tensor(1.0), atol=1e-5):
        return f"確率の合計が {float(p.sum()):.4f} です。合計で割りましたか。"
    if not torch.allclose(p, torch.softmax(z, dim=0), atol=1e-5):
        return "合計は 1 ですが、torch.softmax と値が違います。exp を使っていますか。"
    big = _tensor(_call(softmax, torch.tensor([1000.0, 1001.0, 1002.0])))
    if not torch.isfinite(big).all():
        return ("[1000, 1001, 1002] のような大きなロジットで nan や inf になります"
                "（exp があふれています）。")
    return None


def _check_gradients(manual_gradients: Any) -> Problem:
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(16, 784, generator=g), torch.randint(0, 10, (16,), generator=g)
    W = (0.01 * torch.randn(784, 10, generator=g)).requires_grad_()
    b = torch.zeros(10, requires_grad=True)
    nn.functional.cross_entropy(X @ W + b, y).backward()  # 自動微分での正解
    result = _call(manual_gradients, X, y, W.detach().clone(), b.detach().clone())
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return "(dW, db) の 2 つを返してください。"
    dW, db = map(_tensor, result)
    if dW.shape != W.shape or db.shape != b.shape:
        return (f"形が違います: dW {tuple(dW.shape)}（正しくは (784, 10)）、"
                f"db {tuple(db.shape)}（正しくは (10,)）。")
    if torch.allclose(dW, W.grad * len(y), atol=1e-4):
        return "dW がミニバッチの大きさ倍ずれています。平均をとりましたか。"
    if not torch.allclose(dW, W.grad, atol=1e-5):
        return "dW が自動微分の値と違います。X.T と (P − Y) の積になっていますか。"
    if not torch.allclose(db, b.grad, atol=1e-5):
        return "dW は合っていますが、db が違います。(P − Y) をミニバッチ方向に平均します。"
    return None


def _lesson01() -> SimpleNamespace:
    return SimpleNamespace(
        q1=Exercise(
            "安定なソフトマックス", _check_softmax,
            ["exp(z) を合計で割ると確率になります。",
             "大きなロジットでは exp があふれます。先に z から z の最大値を引いても答えは変わりません。",
             "z = z - z.max() のあと、torch.exp(z) / torch.exp(z).sum() を返します。"],
            "def my_softmax(z):\n    z = z - z.max()  # オーバーフロー対策\n"
            "    e = torch.exp(z)\n    return e / e.sum()"),
        q2=Exercise(
            "ソフトマックス回帰のパラメータ数", _count(7850, {
                7840: "重みだけを数えています。バイアスも学習するパラメータです。",
                794: "重みは 784 と 10 の和ではなく、784 × 10 の行列です。",
                784: "重みは 784 × 10 の行列です。出力が 10 クラスあることを思い出しましょう。"}),
            ["nn.Linear(784, 10) は重み W とバイアス b を持ちます。",
             "W の形は (10, 784)、b の形は (10,) です。"],
            "784 × 10 + 10 = 7850\nsum(p.numel() for p in model.parameters()) でも確かめられます。"),
        q4=Exercise(
            "自動微分を使わない勾配", _check_gradients,
            ["ロジット Z = XW + b についての損失の勾配は (P − Y) / B です"
             "（P は確率、Y は正解の one-hot、B はミニバッチの大きさ）。",
             "連鎖律で dW = Xᵀ (P − Y) / B、db = (P − Y) の行方向の平均です。",
             "Y は torch.nn.functional.one_hot(y, 10).float() で作れます。"],
            "def manual_gradients(X, y, W, b):\n    P = torch.softmax(X @ W + b, dim=1)\n"
            "    Y = torch.nn.functional.one_hot(y, 10).float()\n"
            "    return X.T @ (P - Y) / len(y), (P - Y).mean(dim=0)"),
    )


# --- 02 多層パーセプトロン ------------------------------------------------------

def _lesson02() -> SimpleNamespace:
    return SimpleNamespace(
        q1=Exercise(
            "784 → 100 → 10 の MLP のパラメータ数", _count(79510, {
                79400: "重みだけを数えています。各層のバイアスも足します。",
                79500: "1 層目のバイアス（100 個）は入っていますか。両方の層のバイアスを足します。",
                79410: "2 層目のバイアス（10 個）が足りません。",
                894: "層どうしは掛け算でつながります（784 × 100 のように）。"}),
            ["層ごとに「入力の数 × 出力の数 + 出力の数」を数えて足します。",
             "1 層目は 784 × 100 + 100、2 層目は 100 × 10 + 10 です。"],
            "784 × 100 + 100 + 100 × 10 + 10 = 79510"),
    )


# --- 03 CNN -------------------------------------------------------------------

def _shape(answer: Any) -> tuple[int, ...]:
    if isinstance(answer, torch.Tensor):
        raise TypeError("テンソルではなく、形（.shape かタプル）を渡してください。")
    return tuple(int(v) for v in answer)


def _check_conv_shape(answer: Any) -> Problem:
    shape = _shape(answer)
    if len(shape) != 4:
        return f"形は (バッチ, チャンネル, 高さ, 幅) の 4 つの数です（渡されたのは {len(shape)} 個）。"
    if shape[1] != 8:
        return "チャンネルの数が違います。出力のチャンネル数は nn.Conv2d の 2 つ目の引数です。"
    if shape[2:] == (24, 24):
        return "ストライド 2 を忘れていませんか。"
    if shape[2:] == (13, 13):
        return "床関数（切り捨て）を使った後に 1 を足していますか。"
    if shape != (1, 8, 12, 12):
        return f"{shape} ではありません。出力の大きさの式に H=28, K=5, P=0, S=2 を入れ直しましょう。"
    return None


def _check_receptive_field(answer: Any) -> Problem:
    side = _shape(answer)[0] if isinstance(answer, (tuple, list, torch.Size)) else _number(answer)
    if side == 8:
        return None
    if side == 7:
        return ("7 は最大プーリング（nn.MaxPool2d）で測ったときの値です。最大プーリングは 2 × 2 の"
                "区画ごとに最大の 1 画素にしか勾配を流さない（入力が全部 0 なら区画の先頭の画素）ので、"
                "残りの画素が数えられません。問題のとおり nn.AvgPool2d(2) で測り直しましょう。")
    if side == 5:
        return ("5 はプーリングなしで 3 × 3 を 2 層重ねたときの値です。プーリングの後の 1 画素は、"
                "元の画像の 2 画素分に当たります。")
    if side == 6:
        return "プーリングの後の 3 × 3 を元の大きさに直した分だけです。1 層目の 3 × 3 の広がりも足します。"
    return f"{side:g} ではありません。receptive_field をまねて実際に測ってみましょう。"


def _lesson03() -> SimpleNamespace:
    return SimpleNamespace(
        q1=Exercise(
            "畳み込みの出力の形", _check_conv_shape,
            ["出力の大きさは ⌊(H + 2P − K) / S⌋ + 1 です。",
             "H = 28, K = 5, P = 0, S = 2 を入れます。チャンネル数は出力チャンネル数です。"],
            "⌊(28 − 5) / 2⌋ + 1 = 12 なので (1, 8, 12, 12)\n"
            "nn.Conv2d(1, 8, 5, stride=2)(torch.zeros(1, 1, 28, 28)).shape"),
        q2=Exercise(
            "nn.Conv2d(32, 64, 3) のパラメータ数", _count(18496, {
                18432: "重みだけを数えています。出力チャンネルごとのバイアスも足します。",
                288: "カーネルは入力チャンネル × 出力チャンネルの組ごとにあります。",
                2368: "重みは C_out × C_in × K × K 個です（K は 2 乗します）。"}),
            ["重みの形は (C_out, C_in, K, K)、バイアスは C_out 個です。",
             "64 × 32 × 3 × 3 + 64 を計算します。"],
            "64 × 32 × 3 × 3 + 64 = 18496"),
        q3=Exercise(
            "プーリングをはさんだ 2 層の受容野", _check_receptive_field,
            ["receptive_field と同じく、出力の中央の 1 画素を入力で微分し、勾配が 0 でない範囲を数えます。",
             "最大プーリングは勾配を 1 画素にしか流さないので、範囲を測るときは nn.AvgPool2d(2) を使います。",
             "プーリングの後の 3 × 3 は元の画像の 6 × 6 に当たります。そこに 1 層目の 3 × 3 が加わります。"],
            "8（8 × 8）: プーリング後の 3 × 3 が元の 6 × 6 に当たり、1 層目の 3 × 3 が両側へ 1 画素ずつ広げる。\n"
            "layers = [nn.Conv2d(1, 1, 3, padding=1, bias=False), nn.AvgPool2d(2),\n"
            "          nn.Conv2d(1, 1, 3, padding=1, bias=False)]\n"
            "for layer in layers[::2]:\n"
            "    nn.init.constant_(layer.weight, 1.0)\n"
            "x = torch.zeros(1, 1, 16, 16, requires_grad=True)\n"
            "nn.Sequential(*layers)(x)[0, 0, 4, 4].backward()  # 出力 8 × 8 の中央付近の 1 画素\n"
            "print((x.grad[0, 0] != 0).any(0).sum().item())  # 8\n"
            "nn.MaxPool2d(2) で測ると 7 になる: 最大プーリングは区画の 1 画素にしか勾配を流さないため。"),
    )


# --- 04 4 と 9 ------------------------------------------------------------------

def _check_majority_baseline(answer: Any) -> Problem:
    from course_utils.data import load_mnist  # 今のモード（クイックか通常か）のデータで確かめる

    value = _number(answer)
    if value > 1:
        return "0〜1 の割合で答えてください（% ではなく）。"
    train, test = load_mnist(train=True), load_mnist(train=False)
    counts = {k: int((train.targets == k).sum()) for k in (3, 8)}
    major = max(counts, key=counts.get)
    keep = (test.targets == 3) | (test.targets == 8)
    expected = float((test.targets[keep] == major).float().mean())
    if abs(value - expected) < 1e-3:
        return None
    if abs(value - (1 - expected)) < 1e-3:
        return "それは少ないほうのクラスの割合です。多数派は訓練データで決めます。"
    if abs(value - 0.5) < 1e-3:
        return "0.5 は当て推量のベースラインです。いつも多いほうのクラスと答えたときを考えます。"
    return "値が違います。多数派を訓練データで決め、テストデータの 3 と 8 の中でその割合を求めます。"


def _f1_reference(y: torch.Tensor, y_hat: torch.Tensor) -> float:
    tp = int(((y_hat == 1) & (y == 1)).sum())
    fp = int(((y_hat == 1) & (y == 0)).sum())
    fn = int(((y_hat == 0) & (y == 1)).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def _check_f1(f1_score: Any) -> Problem:
    cases = [(torch.tensor([1, 1, 0, 0, 1]), torch.tensor([1, 0, 0, 1, 1])),
             (torch.tensor([1, 1, 1, 0]), torch.tensor([1, 1, 1, 1])),
             (torch.tensor([0, 1, 0, 1]), torch.tensor([0, 0, 0, 0]))]
    for y, y_hat in cases[:2]:
        value = _number(_tensor(_call(f1_score, y, y_hat)))
        if abs(value - _f1_reference(y, y_hat)) > 1e-6:
            recall = float(((y_hat == 1) & (y == 1)).sum() / (y == 1).sum())
            if abs(value - recall) < 1e-6:
                return "再現率を返しています。F1 は適合率と再現率の調和平均です。"
            return (f"y={y.tolist()}, y_hat={y_hat.tolist()} で {value:.3f} になりました。"
                    "調和平均 2PR / (P + R) になっていますか。")
    value = _number(_tensor(_call(f1_score, *cases[2])))
    if value != value or value != 0.0:  # nan は自分自身と等しくない
        return "「9」と 1 枚も判定しないとき 0 で割っています。その場合は 0 を返します。"
    return None


def _check_two_logit_model(model: Any) -> Problem:
    if not isinstance(model, nn.Module):
        return "nn.Module（モデル）を渡してください。"
    model = copy.deepcopy(model).cpu().eval()  # 学習者のモデルは GPU のまま・学習モードのままにしておく
    with torch.no_grad():
        out = model(torch.zeros(3, 1, 28, 28))
    if tuple(out.shape) != (3, 2):
        return f"出力の形が {tuple(out.shape)} です。2 出力なら (B, 2) になるはずです。"
    count = sum(p.numel() for p in model.parameters())
    if count != 105_346:
        return (f"パラメータ数が {count:,} です。最後の層以外は 1 出力の CNN（105,281）と"
                "同じにすると、最後の層の分だけ増えた数になるはずです。")
    return None


def _lesson04() -> SimpleNamespace:
    return SimpleNamespace(
        q1=Exercise(
            "3 と 8 の多数派のクラスのベースライン", _check_majority_baseline,
            ["load_mnist(train=True).targets から 3 と 8 の枚数を数え、多いほうを多数派にします。",
             "テストデータは 3 と 8 だけに絞ってから、多数派のクラスの割合を求めます。",
             "keep = (test.targets == 3) | (test.targets == 8) で絞れます。"],
            "train, test = load_mnist(train=True), load_mnist(train=False)\n"
            "major = 3 if (train.targets == 3).sum() >= (train.targets == 8).sum() else 8\n"
            "keep = (test.targets == 3) | (test.targets == 8)\n"
            "baseline = (test.targets[keep] == major).float().mean().item()"),
        q3=Exercise(
            "F1 値", _check_f1,
            ["F1 値は適合率 P と再現率 R の調和平均 2PR / (P + R) です。",
             "TP・FP・FN で書くと 2TP / (2TP + FP + FN) になります。",
             "TP が 0 のときは 0 を返します（0 で割らないように）。"],
            "def f1_score(y, y_hat):\n    tp = int(((y_hat == 1) & (y == 1)).sum())\n"
            "    fp = int(((y_hat == 1) & (y == 0)).sum())\n"
            "    fn = int(((y_hat == 0) & (y == 1)).sum())\n"
            "    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)"),
        q5=Exercise(
            "2 出力 + ソフトマックスの CNN", _check_two_logit_model,
            ["make_cnn の最後の nn.Linear(64, 1) を nn.Linear(64, 2) にし、nn.Flatten(0) を外します。",
             "パラメータは最後の層の 64 + 1 = 65 個だけ増えます。"],
            "two = nn.Sequential(*list(make_cnn())[:-2], nn.Linear(64, 2)).to(device)\n"
            "two_history = fit(two, train_loader, val_loader, nn.CrossEntropyLoss(), "
            "torch.optim.Adam(two.parameters(), lr=1e-3), 40, device)\n"
            "# 1 出力の CNN と、検証正解率 two_history['val_acc'] で比べる"),
    )


# --- 05 Vision Transformer ---------------------------------------------------------

def _check_patchify(patchify: Any) -> Problem:
    X = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    for p in (7, 4):
        expected = X.unfold(2, p, p).unfold(3, p, p).reshape(2, (28 // p) ** 2, p * p)
        patches = _tensor(_call(patchify, X, p))
        if patches.shape != expected.shape:
            return (f"パッチの大きさ {p} で形が {tuple(patches.shape)} です。"
                    f"(バッチ, パッチの数, 1 パッチの画素数) = {tuple(expected.shape)} のはずです。")
        if not torch.equal(patches, expected):
            if torch.equal(patches, X.reshape(2, -1).reshape(expected.shape)):
                return ("形は合っていますが、画素を前から順に区切っているだけです。"
                        "1 つのパッチは縦横 p × p の正方形です。")
            return (f"パッチの大きさ {p} で中身が違います。パッチは左上から右へ、"
                    "行ごとに並べ、1 パッチの中も行ごとに並べます。")
    return None


def _lesson05() -> SimpleNamespace:
    return SimpleNamespace(
        q1=Exercise(
            "パッチの大きさ 4 のトークン数", _count(50, {
                49: "パッチの数は合っています。[CLS] トークンも 1 つ足します。",
                16: "それはパッチの大きさ 7 のときのパッチの数です。",
                17: "それはパッチの大きさ 7 のときのトークン数です。",
                7: "28 / 4 = 7 は 1 辺のパッチの数です。縦と横を掛けます。",
                8: "1 辺のパッチの数に [CLS] を足しています。パッチの数は縦 × 横です。"}),
            ["1 辺に並ぶパッチの数は 28 / パッチの大きさ です。",
             "パッチの数は縦 × 横、そこに [CLS] トークンを 1 つ足します。"],
            "(28 / 4) × (28 / 4) + 1 = 49 + 1 = 50"),
        q2=Exercise(
            "自己注意層（dim 64）のパラメータ数", _count(16640, {
                12480: "Q・K・V を作る層だけを数えています。最後の出力の線形層も足します。",
                16384: "重みだけを数えています。バイアスも足します。",
                4160: "出力の線形層だけです。Q・K・V を作る層（出力 3 × 64）も足します。",
                12288: "Q・K・V の重みだけです。バイアスと出力の線形層も足します。"}),
            ["SelfAttention は qkv = nn.Linear(64, 3 × 64) と proj = nn.Linear(64, 64) を持ちます。",
             "nn.Linear(a, b) のパラメータは a × b + b 個です。ヘッドの数は関係ありません。"],
            "(64 × 192 + 192) + (64 × 64 + 64) = 12480 + 4160 = 16640"),
        q3=Exercise(
            "画像をパッチに切る関数", _check_patchify,
            ["X.unfold(2, p, p) は高さの方向に、大きさ p・間隔 p の窓を切り出します。",
             "X.unfold(2, p, p).unfold(3, p, p) の形は (B, 1, 28/p, 28/p, p, p) です。",
             "最後に reshape(B, (28 // p) ** 2, p * p) で (B, パッチの数, 画素数) にします。"],
            "def patchify(X, p):\n    B = len(X)\n"
            "    return X.unfold(2, p, p).unfold(3, p, p).reshape(B, (28 // p) ** 2, p * p)"),
    )

# --- 06 事前学習済みモデル -----------------------------------------------------------

VIT_B16_PARAMS = 86_567_656  # timm の vit_base_patch16_224 のパラメータ数


def _check_vit_fp16_mb(answer: Any) -> Problem:
    value = _number(answer)
    expected = VIT_B16_PARAMS * 2 / 1e6
    if abs(value - expected) <= 0.1:
        return None
    if abs(value - VIT_B16_PARAMS * 4 / 1e6) <= 0.1:
        return "それは float32（1 個 4 バイト）の大きさです。float16 は 1 個 2 バイトです。"
    if abs(value - VIT_B16_PARAMS * 2 / 2**20) <= 0.1:
        return "2²⁰ バイトで割っています（MiB）。ここでは 1 MB = 10⁶ バイトで答えます。"
    if abs(value - VIT_B16_PARAMS / 1e6) <= 0.1:
        return "それはパラメータ数（百万単位）です。1 個あたりのバイト数を掛けます。"
    return f"{value:g} MB ではありません。パラメータ数 × 2 バイト ÷ 10⁶ です。"


def _check_top_k_from_logits(function: Any) -> Problem:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1000, generator=generator) * 3
    expected = torch.softmax(logits, dim=1).topk(5, dim=1)
    result = _call(function, logits.clone(), 5)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return "(確率, クラス番号) の 2 つを返してください。"
    probs, indices = _tensor(result[0]), torch.as_tensor(result[1])
    if probs.shape != (3, 5) or indices.shape != (3, 5):
        return (f"形が {tuple(probs.shape)} と {tuple(indices.shape)} です。"
                "3 枚・k = 5 なら、どちらも (3, 5) のはずです。")
    if torch.equal(indices, logits.topk(5, dim=1).indices) and torch.allclose(probs, logits.topk(5, dim=1).values):
        return "ロジットの値をそのまま返しています。ソフトマックスで確率にしてから選びます。"
    if not torch.equal(indices.long(), expected.indices):
        if torch.equal(indices.long(), torch.softmax(logits, dim=0).topk(5, dim=1).indices):
            return "ソフトマックスを画像の方向（dim=0）にかけています。クラスの方向（dim=1）にかけます。"
        return "クラス番号が違います。確率の高い順に 5 つ選べているか確かめてください。"
    if not torch.allclose(probs, expected.values, atol=1e-5):
        if torch.allclose(probs, expected.values * 100, atol=1e-3):
            return "% にしています。0〜1 の確率のまま返してください。"
        return "番号は合っていますが、確率が違います。ソフトマックスを 1,000 クラスの方向にかけます。"
    return None


def _lesson06() -> SimpleNamespace:
    return SimpleNamespace(
        q1=Exercise(
            "ConvNeXt-T の前処理で短い辺をそろえる大きさ", _count(256, {
                224: "224 は切り抜いた後の大きさです。切り抜く前は、それより大きくします。",
                196: "224 × 0.875 を計算しています。224 を crop_pct で割ります。",
                255: "224 / 0.875 = 256 です（割り切れます）。",
                257: "224 / 0.875 = 256 です（割り切れます）。"}),
            ["crop_pct は、そろえた短い辺のうち、切り抜いて残す割合です。",
             "短い辺 = 入力の大きさ ÷ crop_pct を、小数点以下を切り捨てて整数にします。"],
            "224 / 0.875 = 256。print(transforms[\"ConvNeXt-T\"]) の Resize(size=256) で確かめられます。"),
        q2=Exercise(
            "ViT-B/16 の重みの大きさ（float16）", _check_vit_fp16_mb,
            ["ViT-B/16 のパラメータ数は 86,567,656 個です。",
             "float16 は 1 個 2 バイトです。バイト数を 10⁶ で割ると MB です。"],
            "86,567,656 × 2 / 10⁶ ≈ 173.1 MB（float32 なら 346.3 MB）"),
        q3=Exercise(
            "ロジットから top-k", _check_top_k_from_logits,
            ["まず torch.softmax(logits, dim=1) で、画像ごとに 1,000 クラスの確率にします。",
             "テンソルの .topk(k, dim=1) は、値の大きい順に (値, 番号) を返します。"],
            "def top_k_from_logits(logits, k):\n"
            "    top = torch.softmax(logits, dim=1).topk(k, dim=1)\n"
            "    return top.values, top.indices"),
    )


_LESSONS = {"00": _lesson00, "01": _lesson01, "02": _lesson02, "03": _lesson03, "04": _lesson04,
            "05": _lesson05, "06": _lesson06}


def exercises(lesson: str) -> SimpleNamespace:
    """レッスン番号（"01" など）の演習を、q1, q2, ... を属性に持つ形で返す。"""
    if lesson not in _LESSONS:
        raise ValueError(f"演習があるレッスンは {', '.join(_LESSONS)} です: {lesson!r}")
    return _LESSONS[lesson]()
