"""演習の答え合わせ: 各問に、正しい答えが通ることと、よくある間違いが説明つきで落ちることを確かめる。"""

import pytest
import torch
from torch import nn

from course_utils.data import load_mnist
from course_utils.exercises import Exercise, exercises
from course_utils.exercises.core import LAST_HINT


def passes(exercise, answer):
    correct, message = exercise.evaluate(answer)
    assert correct, message


def fails(exercise, answer, *expected):
    correct, message = exercise.evaluate(answer)
    assert not correct and message.startswith("✗"), message
    assert all(text in message for text in expected), message


# --- 仕組み ----------------------------------------------------------------------

def test_unanswered_exercise_says_so_without_error(capsys):
    ex = exercises("01")
    ex.q2.check(None)
    out = capsys.readouterr().out
    assert "まだ答えが入っていません" in out and ".hint()" in out


def test_hints_get_more_specific_and_stop_at_the_last(capsys):
    q = Exercise("例", lambda a: None, ["一般的なヒント", "具体的なヒント"], "答え")
    for _ in range(3):
        q.hint()
    out = capsys.readouterr().out.splitlines()
    last = "ヒント 2/2: 具体的なヒント" + LAST_HINT
    assert out == ["ヒント 1/2: 一般的なヒント", last, last]
    assert LAST_HINT == "（これが最後のヒントです。解答例は .solution() で見られます）"
    only = Exercise("例", lambda a: None, ["ただ 1 つのヒント"], "答え")
    only.hint()
    assert capsys.readouterr().out == "ヒント 1/1: ただ 1 つのヒント" + LAST_HINT + "\n"


def test_solution_and_a_crashing_answer(capsys):
    ex = exercises("01")
    ex.q4.solution()
    assert "def manual_gradients" in capsys.readouterr().out

    def broken(X, y, W, b):
        raise KeyError("どこかの間違い")

    correct, message = ex.q4.evaluate(broken)
    assert not correct and "エラーになりました: KeyError" in message


def test_unknown_lesson_is_a_clear_error():
    with pytest.raises(ValueError, match="演習があるレッスン"):
        exercises("99")


# --- 01 ----------------------------------------------------------------------------

def test_01_softmax():
    ex = exercises("01")

    def stable(z):
        e = torch.exp(z - z.max())
        return e / e.sum()

    passes(ex.q1, stable)
    fails(ex.q1, lambda z: torch.exp(z) / torch.exp(z).sum(), "あふれています")
    fails(ex.q1, lambda z: torch.exp(z), "合計")
    fails(ex.q1, lambda z: z / z.sum(), "torch.softmax と値が違います")
    correct, message = ex.q1.evaluate(lambda z: None)  # return を書いていない
    assert not correct and "まだ答えが入っていません" in message


def test_01_parameter_count():
    ex = exercises("01")
    passes(ex.q2, 7850)
    passes(ex.q2, torch.tensor(7850))
    fails(ex.q2, 7840, "バイアス")
    fails(ex.q2, 794, "784 × 10")
    fails(ex.q2, 1234, "1,234 ではありません")


def test_01_manual_gradients():
    ex = exercises("01")

    def right(X, y, W, b):
        P = torch.softmax(X @ W + b, dim=1)
        Y = nn.functional.one_hot(y, 10).float()
        return X.T @ (P - Y) / len(y), (P - Y).mean(dim=0)

    def no_mean(X, y, W, b):
        dW, db = right(X, y, W, b)
        return dW * len(y), db

    def wrong_db(X, y, W, b):
        return right(X, y, W, b)[0], torch.zeros(10)

    passes(ex.q4, right)
    fails(ex.q4, no_mean, "平均")
    fails(ex.q4, wrong_db, "db が違います")
    fails(ex.q4, lambda X, y, W, b: (W.T, b), "形が違います")


# --- 02 ----------------------------------------------------------------------------

def test_02_node_rules():
    ex = exercises("02")
    passes(ex.q1, -1)
    fails(ex.q1, 1.5, "y への勾配")
    fails(ex.q1, -2, "上流から届いた勾配 0.5 も掛けます")
    fails(ex.q1, 0.5, "そのまま通しています")
    fails(ex.q1, -6, "順伝播の z")
    fails(ex.q1, -3, "上流の勾配 × z")
    fails(ex.q1, 7, "7 ではありません")
    passes(ex.q2, 0.75)
    fails(ex.q2, 0.25, "上流から届いた勾配 3 も掛けます")
    fails(ex.q2, 1.5, "σ(q)(1 − σ(q))")
    fails(ex.q2, 0.5, "順伝播の出力")  # σ(0) だけを計算した答えは通さない
    fails(ex.q2, 3, "そのまま通しています")


def test_02_default_init_std():
    ex = exercises("02")
    passes(ex.q3, 1 / (3 * 256) ** 0.5)
    passes(ex.q3, round(1 / (3 * 256) ** 0.5, 4))  # 小数 4 桁に丸めても通る
    for seed in range(5):  # 重み 1 回分を測った値（乱数で少しずれる）も通る
        torch.manual_seed(seed)
        passes(ex.q3, nn.Linear(256, 128).weight.std())
    fails(ex.q3, 1 / 16, "境界")
    fails(ex.q3, (2 / 256) ** 0.5, "He")
    fails(ex.q3, (2 / 384) ** 0.5, "Xavier")
    fails(ex.q3, 1 / (3 * 128) ** 0.5, "取り違えて")
    fails(ex.q3, 1 / 768, "平方根")


def test_02_linear_backward():
    ex = exercises("02")

    def right(X, W, b, G):
        return G @ W.T, X.T @ G, G.sum(dim=0)

    passes(ex.q4, right)
    passes(ex.q4, lambda X, W, b, G: [v.numpy() for v in right(X, W, b, G)])  # NumPy の配列でも通る
    fails(ex.q4, lambda X, W, b, G: (G @ W.T, G.T @ X, G.sum(dim=0)), "逆です")
    fails(ex.q4, lambda X, W, b, G: (G @ W.T, X.T @ G, G), "縦に足し合わせます")
    fails(ex.q4, lambda X, W, b, G: (G @ W.T, X.T @ G, G.mean(dim=0)), "平均ではなく")
    fails(ex.q4, lambda X, W, b, G: (G @ W.T, X.T @ G * 2, G.sum(dim=0)), "dW が自動微分の値と違います")
    fails(ex.q4, lambda X, W, b, G: (G @ W.T * 0, X.T @ G, G.sum(dim=0)), "dX が自動微分の値と違います")
    fails(ex.q4, lambda X, W, b, G: (X.T @ G, G.sum(dim=0)), "3 つを返して")
    fails(ex.q4, lambda X, W, b, G: (X, W.T @ W, b), "形が違います: dW が (3, 3)")


# --- 03, 04 ------------------------------------------------------------------------

def test_03_parameter_count():
    ex = exercises("03")
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    passes(ex.q1, sum(p.numel() for p in model.parameters()))
    fails(ex.q1, 79400, "バイアス")


def test_04_checks():
    ex = exercises("04")
    passes(ex.q1, nn.Conv2d(1, 8, 5, stride=2)(torch.zeros(1, 1, 28, 28)).shape)
    passes(ex.q1, (1, 8, 12, 12))
    fails(ex.q1, (1, 8, 24, 24), "ストライド")
    fails(ex.q1, (1, 1, 12, 12), "チャンネル")
    fails(ex.q1, (8, 12, 12), "4 つの数")
    passes(ex.q2, sum(p.numel() for p in nn.Conv2d(32, 64, 3).parameters()))
    fails(ex.q2, 18432, "バイアス")
    passes(ex.q3, 8)
    passes(ex.q3, (8, 8))
    fails(ex.q3, 7, "nn.AvgPool2d(2)")
    fails(ex.q3, 5, "プーリングなし")
    fails(ex.q3, 6, "1 層目")
    fails(ex.q3, 9, "9 ではありません")


def measured_receptive_field(pool):
    """04 の receptive_field と同じ測り方（重み 1、入力 0、中央 1 画素の勾配）で 1 辺を測る。"""
    layers = [nn.Conv2d(1, 1, 3, padding=1, bias=False), pool,
              nn.Conv2d(1, 1, 3, padding=1, bias=False)]
    for layer in layers[::2]:
        nn.init.constant_(layer.weight, 1.0)
    x = torch.zeros(1, 1, 16, 16, requires_grad=True)
    nn.Sequential(*layers)(x)[0, 0, 4, 4].backward()
    touched = x.grad[0, 0] != 0
    return touched.any(0).sum().item(), touched.any(1).sum().item()


def test_04_receptive_field_as_measured():
    """平均プーリングで測った 8 が正解、最大プーリングで測った 7 はその理由つきで落ちる。"""
    import numpy as np

    ex = exercises("04")
    assert measured_receptive_field(nn.AvgPool2d(2)) == (8, 8)
    assert measured_receptive_field(nn.MaxPool2d(2)) == (7, 7)
    passes(ex.q3, measured_receptive_field(nn.AvgPool2d(2)))
    passes(ex.q3, measured_receptive_field(nn.AvgPool2d(2))[0])
    passes(ex.q3, np.int64(8))  # NumPy の整数でも受け付ける
    fails(ex.q3, measured_receptive_field(nn.MaxPool2d(2))[0], "最大プーリング")
    fails(ex.q3, np.int64(7), "1 画素にしか勾配を流さない")


# --- 05 ----------------------------------------------------------------------------

def test_05_majority_baseline():
    ex = exercises("05")
    train, test = load_mnist(train=True), load_mnist(train=False)
    major = 3 if (train.targets == 3).sum() >= (train.targets == 8).sum() else 8
    keep = (test.targets == 3) | (test.targets == 8)
    baseline = (test.targets[keep] == major).float().mean().item()
    passes(ex.q1, baseline)
    fails(ex.q1, baseline * 100, "0〜1 の割合")
    if abs(baseline - 0.5) > 1e-3:  # 少数派の割合と区別できるときだけ
        fails(ex.q1, 1 - baseline, "少ないほうのクラス")


def test_05_f1_score():
    ex = exercises("05")

    def f1(y, y_pred):
        tp = int(((y_pred == 1) & (y == 1)).sum())
        fp = int(((y_pred == 1) & (y == 0)).sum())
        fn = int(((y_pred == 0) & (y == 1)).sum())
        return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)

    def recall(y, y_pred):
        return ((y_pred == 1) & (y == 1)).sum() / (y == 1).sum()

    def divides_by_zero(y, y_pred):
        tp = ((y_pred == 1) & (y == 1)).sum().float()
        p, r = tp / (y_pred == 1).sum(), tp / (y == 1).sum()
        return 2 * p * r / (p + r)

    passes(ex.q3, f1)
    fails(ex.q3, recall, "再現率を返しています")
    fails(ex.q3, divides_by_zero, "0 で割っています")


def test_05_two_logit_model():
    ex = exercises("05")

    def cnn(outputs):
        layers = [nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                  nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, outputs)]
        return nn.Sequential(*layers, *([nn.Flatten(0)] if outputs == 1 else []))

    model = cnn(2).train()
    passes(ex.q5, model)
    assert model.training  # 調べても学習者のモデルの状態（学習モード・デバイス）は変えない
    fails(ex.q5, cnn(1), "出力の形")
    fails(ex.q5, nn.Sequential(nn.Flatten(), nn.Linear(784, 2)), "パラメータ数")
    fails(ex.q5, "モデル", "nn.Module")


# --- 06 ----------------------------------------------------------------------------

def test_06_counts():
    ex = exercises("06")
    passes(ex.q1, 50)
    fails(ex.q1, 49, "[CLS]")
    qkv, proj = nn.Linear(64, 192), nn.Linear(64, 64)
    passes(ex.q2, sum(p.numel() for p in [*qkv.parameters(), *proj.parameters()]))
    fails(ex.q2, 12480, "出力の線形層")
    fails(ex.q2, 16384, "バイアス")


def test_06_patchify():
    ex = exercises("06")

    def right(X, p):
        B = len(X)
        return X.unfold(2, p, p).unfold(3, p, p).reshape(B, (28 // p) ** 2, p * p)

    def naive(X, p):
        return X.reshape(len(X), (28 // p) ** 2, p * p)  # 画素を順に区切るだけ

    def columns_first(X, p):
        return right(X.transpose(2, 3), p)

    passes(ex.q3, right)
    fails(ex.q3, naive, "前から順に区切っているだけ")
    fails(ex.q3, columns_first, "中身が違います")
    fails(ex.q3, lambda X, p: X.flatten(1), "形が")


def test_counts_reject_fractions():
    fails(exercises("06").q1, 49.5, "整数ではありません")


# --- 00 ----------------------------------------------------------------------------

def test_00_checks(capsys):
    import numpy as np

    ex = exercises("00")
    test = load_mnist(train=False, normalize=None)
    label, count = int(test.targets[1]), int((test.data[1] > 0).sum())
    passes(ex.q1, (label, count))
    fails(ex.q1, (label, 784), "全画素")
    if int(test.targets[0]) != label:
        fails(ex.q1, (int(test.targets[0]), count), "添字 0")
    ex.q1.check(label, None)  # 片方だけ書いた状態はまだ答えていない扱い
    assert "まだ答えが入っていません" in capsys.readouterr().out
    photo = np.random.default_rng(0).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    passes(ex.q2, (photo, photo[:, ::-1]))
    fails(ex.q2, (photo, photo[::-1]), "上下")
    fails(ex.q2, (photo, photo[:, :, ::-1]), "色の順番")
    passes(ex.q3, (photo, photo @ np.array([0.299, 0.587, 0.114])))
    fails(ex.q3, (photo, photo.mean(axis=2)), "単純な平均")
    fails(ex.q3, (photo, photo), "形が")


def test_07_checks():
    ex = exercises("07")
    passes(ex.q1, 256)
    fails(ex.q1, 224, "切り抜いた後")
    fails(ex.q1, 196, "割ります")
    for rounded in (173.1, 173, 173.14, 173.135312):  # 整数・小数第 1 位・丸めない値
        passes(ex.q2, rounded)
    fails(ex.q2, 174, "丸め方")  # 切り上げ: 式は合っている
    fails(ex.q2, 172, "丸め方")
    for wrong_formula in (346.3, 346):
        fails(ex.q2, wrong_formula, "float32")
    for mebibytes in (165.1, 165):
        fails(ex.q2, mebibytes, "MiB")
    for millions in (86.6, 87):
        fails(ex.q2, millions, "パラメータ数")
    fails(ex.q2, 173_135_312, "バイト数のまま")
    fails(ex.q2, 0.173, "GB")
    fails(ex.q2, 180, "パラメータ数 × 2 バイト ÷ 10⁶")

    def good(logits, k):
        top = torch.softmax(logits, dim=1).topk(k, dim=1)
        return top.values, top.indices

    passes(ex.q3, good)
    fails(ex.q3, lambda logits, k: tuple(logits.topk(k, dim=1)), "ロジットの値をそのまま")
    fails(ex.q3, lambda logits, k: tuple(torch.softmax(logits, dim=0).topk(k, dim=1)), "dim=0")
    fails(ex.q3, lambda logits, k: (good(logits, k)[0] * 100, good(logits, k)[1]), "%")
    fails(ex.q3, lambda logits, k: good(logits, k)[0], "2 つを返して")


def test_07_parameter_count_matches_timm():
    import timm

    from course_utils.exercises import VIT_B16_PARAMS

    model = timm.create_model("vit_base_patch16_224")
    assert sum(p.numel() for p in model.parameters()) == VIT_B16_PARAMS


# --- 08 ----------------------------------------------------------------------------

def test_08_features_shape_and_probe_size_match_timm():
    """正解の形と数は、timm の tf_efficientnet_lite0 そのもので測る。"""
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1).eval()
    imagenet = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    with torch.no_grad():
        small = model.forward_features(torch.zeros(1, 3, 64, 64))
        large = model.forward_features(torch.zeros(1, 3, 224, 224))
        mnist = model.forward_features(torch.zeros(1, 3, 28, 28))
        pooled = model.forward_head(small, pre_logits=True)
        before_head = model.blocks(model.bn1(model.conv_stem(torch.zeros(1, 3, 64, 64))))
    assert small.shape == (1, model.num_features, 2, 2) == (1, 1280, 2, 2)
    ex = exercises("08")
    passes(ex.q1, small.shape[1:])
    passes(ex.q1, tuple(small.shape[1:]))
    passes(ex.q1, list(small[0].shape))
    fails(ex.q1, small.shape, "バッチの次元のほかは合っています", "バッチの次元を除いた")
    fails(ex.q1, small, "テンソルではなく、形（.shape かタプル）", "テンソル（形 (1, 1280, 2, 2)")
    fails(ex.q1, large.shape[1:], "224×224 の入力")
    fails(ex.q1, mnist.shape[1:], "28×28 の入力", "切り上げて 1", "1/32")
    fails(ex.q1, pooled.shape, "全体の平均プーリング", "forward_head")
    fails(ex.q1, pooled.shape[1:], "全体の平均プーリング")
    fails(ex.q1, before_head.shape[1:], "最後のブロックの出力のチャンネル数", "conv_head")
    fails(ex.q1, (imagenet.num_classes, 2, 2), "ImageNet のクラスの数")
    code = ex.q1.answer.splitlines()[0].split("。", 1)[1]  # 解答例の確かめるコード（ノートブックの backbone）
    with torch.no_grad():
        result = eval(code, {"torch": torch, "backbone": model, "device": torch.device("cpu")})
    assert result == (1280, 2, 2)
    passes(ex.q1, result)
    passes(ex.q2, sum(p.numel() for p in model.get_classifier().parameters()))
    fails(ex.q2, sum(p.numel() for p in imagenet.get_classifier().parameters()), "ImageNet の 1,000 クラス")


def test_08_features_shape():
    import numpy as np

    ex = exercises("08")
    for answer in [(1280, 2, 2), [1280, 2, 2], torch.Size([1280, 2, 2]), (1280.0, 2.0, 2.0),
                   tuple(np.int64(v) for v in (1280, 2, 2)), (np.int32(1280), 2, 2),
                   np.array([1280, 2, 2]), (torch.tensor(1280), torch.tensor(2), 2)]:
        passes(ex.q1, answer)
    for pooled in (1280, np.int64(1280), (1280,), [1280], (1, 1280)):
        fails(ex.q1, pooled, "全体の平均プーリング", "forward_features では縦横の位置が残ります")
    fails(ex.q1, (1280, 7, 7), "224×224 の入力")
    fails(ex.q1, (320, 2, 2), "最後のブロックの出力のチャンネル数", "1×1 の畳み込み conv_head")
    fails(ex.q1, (1280, 1, 1), "28×28 の入力", "切り上げて 1", "ストライド 2", "1/32")
    fails(ex.q1, (1280, 4, 4), "1/16 ではなく", "1/32")
    fails(ex.q1, (1280, 64, 64), "64 のまま", "ストライド 2", "1/32")
    for side, ratio in [(32, "1/2"), (16, "1/4"), (8, "1/8")]:
        fails(ex.q1, (1280, side, side), f"{ratio} ではなく", "全体で 1/32")
    fails(ex.q1, (1280, 3, 3), "3×3 が違います", "1/32")
    fails(ex.q1, (1280, 2, 1), "2×1 が違います")
    fails(ex.q1, (1280, 0, 0), "0×0 が違います")
    fails(ex.q1, (1000, 2, 2), "ImageNet のクラスの数", "conv_head")
    fails(ex.q1, (512, 2, 2), "チャンネル数 512 が違います", "1×1 の畳み込み conv_head")
    fails(ex.q1, (320, 7, 7), "最後のブロック")  # チャンネルが違えば、まずチャンネルを言う
    fails(ex.q1, (2, 2, 1280), "チャンネルが先")
    fails(ex.q1, (1, 1280, 2, 2), "バッチの次元のほかは合っています", "バッチの次元を除いた", "3 つ")
    fails(ex.q1, (1, 1280, 7, 7), "バッチの次元を除いた (チャンネル, 高さ, 幅) の 3 つ", "4 個")
    correct, message = ex.q1.evaluate((1, 1280, 7, 7))
    assert "合っています" not in message
    fails(ex.q1, (2, 2), "3 つで答えてください（渡されたのは 2 個）")


def test_08_probe_parameter_count():
    ex = exercises("08")
    passes(ex.q2, 1281)
    passes(ex.q2, sum(p.numel() for p in nn.Linear(1280, 1).parameters()))
    fails(ex.q2, 1280, "バイアスを忘れています")
    fails(ex.q2, 2562, "2 出力（ロジット 2 つ）", "ロジット 1 つ")
    fails(ex.q2, 2560, "2 出力の重みだけ")
    for imagenet in (1_281_000, 1001 * 1280, 1000 * 1280):
        fails(ex.q2, imagenet, "ImageNet の 1,000 クラスの分類の層")
    fails(ex.q2, 1282, "1,282 ではありません")


def freeze_except_head(model):
    model.requires_grad_(False)
    model.get_classifier().requires_grad_(True)


def test_08_freeze_except_head_passes():
    ex = exercises("08")
    namespace = {}
    exec(ex.q3.answer, namespace)  # 解答例のコードそのものが通る
    passes(ex.q3, namespace["freeze_except_head"])
    passes(ex.q3, freeze_except_head)

    def one_by_one(model):
        for p in model.parameters():
            p.requires_grad = False
        for p in model.classifier.parameters():
            p.requires_grad = True

    def returns_the_same_model(model):
        freeze_except_head(model)
        return model

    passes(ex.q3, one_by_one)
    passes(ex.q3, returns_the_same_model)


def test_08_freeze_except_head_mistakes():
    import copy

    ex = exercises("08")

    def everything_frozen(model):
        model.requires_grad_(False)

    def evaluation_mode(model):
        model.eval()

    def attribute(model):
        model.requires_grad = False

    def new_model(model):
        model = copy.deepcopy(model)
        freeze_except_head(model)
        return model

    def weights_only(model):
        for name, p in model.named_parameters():
            if name.endswith("weight") and not name.startswith("classifier"):
                p.requires_grad = False

    def head_only(model):
        model.get_classifier().requires_grad_(False)

    def bias_frozen_too(model):
        freeze_except_head(model)
        model.get_classifier().bias.requires_grad = False

    def replaces_the_head(model):
        model.requires_grad_(False)
        model.reset_classifier(2)

    fails(ex.q3, everything_frozen, "分類の層まで凍結しています")
    fails(ex.q3, lambda model: None, "どのパラメータも学習するまま")
    fails(ex.q3, evaluation_mode, "model.eval() は BatchNorm と Dropout", "勾配は計算され続けます")
    fails(ex.q3, attribute, "model.requires_grad = False は", "requires_grad_(False)")
    fails(ex.q3, new_model, "新しいモデルを作って返しています", "渡されたモデルそのもの")
    fails(ex.q3, weights_only, "分類の層のほかにも", "bias")
    fails(ex.q3, head_only, "逆になっています")
    fails(ex.q3, bias_frozen_too, "分類の層のパラメータの一部（classifier.bias など）")
    fails(ex.q3, replaces_the_head, "分類の層の形が変わっています")
    fails(ex.q3, lambda model: model.fc.requires_grad_(True),
          "エラーになりました: AttributeError", "no attribute 'fc'")
    fails(ex.q3, nn.Linear(1280, 1), "モデルではなく", "check(freeze_except_head)")
    fails(ex.q3, lambda model, lr: None, "引数 1 つで呼べる関数")


def test_08_every_question_has_hints_and_a_solution(capsys):
    ex = exercises("08")
    for name in ("q1", "q2", "q3"):
        question = getattr(ex, name)
        assert len(question.hints) >= 2 and question.answer.strip()
    assert len(ex.q3.hints) == 3 and "def freeze_except_head(model):" in ex.q3.answer
    ex.q3.solution()
    assert "requires_grad_(False)" in capsys.readouterr().out
    assert "ストライド 2" in ex.q1.hints[0] and "5 回" in ex.q1.hints[0] and "1/32" in ex.q1.hints[0]
    assert "conv_head" in ex.q1.hints[-1]
    ex.q1.solution()
    shown = capsys.readouterr().out
    assert "(1280, 2, 2)" in shown and "forward_features(torch.zeros(1, 3, 64, 64" in shown
    assert "64 / 32 = 2" in shown and "28×28" in shown and "1×1" in shown and "64×64 に拡大" in shown
