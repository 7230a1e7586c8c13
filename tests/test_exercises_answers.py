"""演習の答えの受け取り方（issue 17 の 1 と 2）。

1. 正しい答えは、NumPy の数・0 次元のテンソル・1 要素のリストで渡しても、00〜08 のどの数の問題でも通る。
2. 種類や形の違う答えには、何を渡すはずで何が渡されたか（型の名前・形）を日本語で言う。英語のエラー文を主に出さない。
"""

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.data import load_mnist
from course_utils.exercises import Exercise, exercises
from course_utils.exercises import VIT_B16_PARAMS

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def passes(exercise, answer):
    correct, message = exercise.evaluate(answer)
    assert correct, message


def fails(exercise, answer, *expected):
    """日本語の「✗ 」の文で落ち、expected の文言をすべて含む。主な文（1 行目）は日本語で始まる。"""
    correct, message = exercise.evaluate(answer)
    assert not correct and message.startswith("✗ "), message
    first_line = message.splitlines()[0]
    assert JAPANESE.search(first_line) and first_line.endswith("。"), f"主な文が日本語ではありません: {message}"
    for text in expected:
        assert text in message, message
    return message


# --- 1. 正しい答えはどの形の数でも通る ------------------------------------------------------

def forms_of(value):
    """学習者が計算の結果としてよく渡す、同じ数のいろいろな形。"""
    forms = {"int/float": value, "np.float64": np.float64(value), "np.float32": np.float32(value),
             "0-d tensor": torch.tensor(float(value)), "1-element list": [value],
             "1-element array": np.array([value]), "1-element tensor": torch.tensor([float(value)])}
    if float(value).is_integer():
        integer = int(value)
        forms |= {"np.int64": np.int64(integer), "np.int32": np.int32(integer),
                  "0-d int tensor": torch.tensor(integer), "float": float(integer),
                  "np.prod": np.prod((integer, 1))}
    return forms


def majority_baseline():
    train, test = load_mnist(train=True), load_mnist(train=False)
    major = 3 if (train.targets == 3).sum() >= (train.targets == 8).sum() else 8
    keep = (test.targets == 3) | (test.targets == 8)
    return (test.targets[keep] == major).float().mean().item()


NUMERIC = [("01", "q2", 7850), ("02", "q1", -1), ("02", "q2", 0.75), ("02", "q3", 1 / 768 ** 0.5),
           ("03", "q1", 79510), ("04", "q2", 18496), ("04", "q3", 8),
           ("06", "q1", 50), ("06", "q2", 16640), ("07", "q1", 256),
           ("07", "q2", VIT_B16_PARAMS * 2 / 1e6), ("08", "q2", 1281)]


@pytest.mark.parametrize("lesson, question, value", NUMERIC,
                         ids=[f"{lesson}-{q}" for lesson, q, _ in NUMERIC])
def test_every_numeric_checker_accepts_numpy_and_tensor_numbers(lesson, question, value):
    exercise = getattr(exercises(lesson), question)
    for name, form in forms_of(value).items():
        correct, message = exercise.evaluate(form)
        assert correct, f"{name}: {message}"


def test_issue_example_numpy_product_is_a_parameter_count():
    passes(exercises("01").q2, np.prod((784, 10)) + 10)


def test_05_baseline_accepts_numpy_and_tensor_numbers():
    baseline = majority_baseline()
    ex = exercises("05")
    for name, form in forms_of(baseline).items():
        correct, message = ex.q1.evaluate(form)
        assert correct, f"{name}: {message}"


def test_00_count_computed_with_numpy_is_accepted():
    test_set = load_mnist(train=False, normalize=None)
    img = test_set.data[1]
    ex = exercises("00")
    passes(ex.q1, (test_set.targets[1], (img.numpy() > 0).sum()))  # 0 次元のテンソルと np.int64
    passes(ex.q1, (test_set.targets[1].numpy(), np.count_nonzero(img.numpy())))
    passes(ex.q1, [int(test_set.targets[1]), float((img > 0).sum())])


def test_04_shape_with_numpy_integers_and_as_a_list():
    ex = exercises("04")
    passes(ex.q1, tuple(np.int64(v) for v in (1, 8, 12, 12)))
    passes(ex.q1, [1, 8, 12, 12])
    passes(ex.q1, np.array([1, 8, 12, 12]))
    passes(ex.q3, np.array([8, 8]))


def test_functions_may_return_numpy_or_python_numbers():
    ex = exercises("05")

    def f1(y, y_pred, kind):
        tp = int(((y_pred == 1) & (y == 1)).sum())
        fp = int(((y_pred == 1) & (y == 0)).sum())
        fn = int(((y_pred == 0) & (y == 1)).sum())
        value = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
        return {"float": value, "np.float32": np.float32(value), "np.float64": np.float64(value),
                "tensor": torch.tensor(value), "list": [value]}[kind]

    for kind in ("float", "np.float32", "np.float64", "tensor", "list"):
        passes(ex.q3, lambda y, y_pred, kind=kind: f1(y, y_pred, kind))

    def softmax_as_numpy(z):
        e = np.exp(z.numpy() - z.numpy().max())
        return e / e.sum()

    passes(exercises("01").q1, softmax_as_numpy)
    passes(exercises("01").q1, lambda z: torch.softmax(z, 0).tolist())


def test_answers_are_not_changed_and_learner_inputs_are_copies():
    """学習者の関数が入力をその場で書き換えても、答え合わせの基準はずれない。"""
    def in_place(z):
        z -= z.max()
        z.exp_()
        return z / z.sum()

    passes(exercises("01").q1, in_place)
    photo = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    before = photo.copy()
    passes(exercises("00").q2, (photo, photo[:, ::-1]))
    assert np.array_equal(photo, before)


# --- 2. 種類や形の違う答えは日本語で ----------------------------------------------------------

def test_number_expected_but_something_else_received():
    q = exercises("01").q2
    fails(q, "7850", "数を 1 つ渡してください", "文字列 '7850'（str）", "引用符で囲まずに")
    fails(q, lambda: 7850, "数を 1 つ渡してください", "関数 <lambda>", "計算した結果の数")
    fails(q, torch.ones(28, 28), "数を 1 つ渡してください", "テンソル（形 (28, 28)、torch.float32）",
          ".sum()")
    fails(q, np.ones((2, 3)), "NumPy の配列（形 (2, 3)、float64）")
    fails(q, [7840, 10], "リスト（list、長さ 2", "並びではなく")
    fails(q, True, "真偽値 True（bool）", "True / False ではなく")
    fails(q, torch.tensor(True), "True / False ではなく")
    fails(q, {"n": 7850}, "辞書（dict")
    fails(q, 1e400 if False else 10 ** 400, "大きすぎて")


def test_nan_and_inf_are_named_not_crashed_on():
    for lesson, question in [("01", "q2"), ("04", "q3"), ("05", "q1"), ("07", "q2"), ("08", "q2")]:
        q = getattr(exercises(lesson), question)
        fails(q, float("nan"), "nan（数ではない値）")
        fails(q, np.float32("nan"), "nan（数ではない値）")
        fails(q, torch.tensor(float("inf")), "無限大（inf）")
    fails(exercises("00").q1, (7, float("nan")), "画素の数が nan")
    fails(exercises("08").q1, (1280, float("nan"), 2), "形の 2 番目が nan（数ではない値）")
    fails(exercises("08").q1, (1280, 2, np.float32("inf")), "形の 3 番目が無限大（inf）")
    fails(exercises("08").q1, float("nan"), "3 つの整数のタプル", "小数 nan（float）")


def test_function_expected_but_number_received():
    for lesson, question, name in [("01", "q1", "my_softmax"), ("01", "q4", "manual_gradients"),
                                   ("05", "q3", "f1_score"), ("06", "q3", "patchify"),
                                   ("07", "q3", "top_k_from_logits"),
                                   ("08", "q3", "freeze_except_head")]:
        q = getattr(exercises(lesson), question)
        fails(q, 0.5, "関数そのもの（名前だけ、かっこなし）を渡してください", "小数 0.5（float）",
              f"check({name})")
        fails(q, torch.zeros(3), "関数そのもの", "テンソル（形 (3,)")
    fails(exercises("01").q1, nn.Linear, "関数そのもの", "クラス Linear")


def test_function_with_the_wrong_number_of_parameters():
    fails(exercises("01").q1, lambda z, dim: z, "my_softmax(z) のように引数 1 つで呼べる関数",
          "いまの引数: (z, dim)")
    fails(exercises("06").q3, lambda X: X, "patchify(X, p) のように引数 2 つ")
    fails(exercises("08").q3, lambda model, lr: None, "freeze_except_head(model) のように引数 1 つ",
          "いまの引数: (model, lr)")


def test_function_returning_the_wrong_kind_of_value():
    fails(exercises("01").q1, lambda z: "softmax", "my_softmax が返した値は数の並び",
          "文字列 'softmax'（str）")
    fails(exercises("01").q1, lambda z: [0.5, "a", 0.2], "my_softmax が返した値は数の並び",
          "中身が数ではありません")
    fails(exercises("01").q1, lambda z: [[1.0], [1.0, 2.0]], "長さのそろった数の並び")
    fails(exercises("01").q1, lambda z: lambda: z, "関数を呼んだ結果")
    fails(exercises("01").q4, lambda X, y, W, b: torch.tensor(3.0), "(dW, db) の 2 つを返してください",
          "テンソル（形 ()")
    fails(exercises("01").q4, lambda X, y, W, b: (W, "db"), "返された db は数の並び")
    fails(exercises("07").q3, lambda logits, k: None if False else 3, "(確率, クラス番号) の 2 つ",
          "整数 3（int）")
    fails(exercises("05").q3, lambda y, y_pred: "0.5", "f1_score が返した値には数を 1 つ",
          "文字列 '0.5'")
    fails(exercises("06").q3, lambda X, p: X[0, 0, 0, 0], "形が ()")


def test_sequence_expected_but_a_zero_dim_tensor_or_function_received():
    fails(exercises("00").q2, torch.tensor(5), "check(photo, flipped) のように 2 つを渡してください",
          "テンソル（形 ()、torch.int64）")
    fails(exercises("04").q1, torch.tensor(5), "テンソルではなく、出力の形", "テンソル（形 ()")
    fails(exercises("04").q1, lambda: (1, 8, 12, 12), "出力の形は (1, 8, 12, 12) のような整数のタプル",
          "関数 <lambda>")
    fails(exercises("04").q1, (1, 8, "12", 12), "出力の形の 3 番目には数を 1 つ", "文字列 '12'")
    fails(exercises("04").q1, (1, 8, 12.5, 12), "整数ではありません")
    fails(exercises("04").q1, 12, "整数 12（int）")
    fails(exercises("04").q3, (8, 7), "縦 8 と横 7 が違います")
    fails(exercises("04").q3, (8, 8, 8), "数 1 つで答えてください")


def test_pairs_with_the_wrong_count_or_kind():
    photo = np.zeros((4, 6, 3), dtype=np.uint8)
    ex = exercises("00")
    fails(ex.q1, 7, "check(ラベル, 画素の数) のように 2 つの数", "整数 7（int）")
    fails(ex.q1, (7, 100, 3), "2 つの数", "長さ 3")
    fails(ex.q1, ("7", 100), "ラベルには数を 1 つ", "文字列 '7'")
    fails(ex.q2, (photo, photo, photo), "check(photo, flipped) のように 2 つ", "3 つ")
    fails(ex.q2, (photo, "flipped"), "2 つ目の flipped は数の並び", "文字列 'flipped'")
    fails(ex.q2, (photo[:, :, 0], photo[:, ::-1, 0]), "元の写真 photo（形 (高さ, 幅, 3) の配列）",
          "形 (4, 6)")
    fails(ex.q2, (photo, photo[:, ::-1, :2]), "形が (4, 6, 2) です")
    fails(ex.q3, (photo, lambda x: x), "2 つ目の gray は数の並び", "関数 <lambda>")
    fails(ex.q3, (photo, np.full((4, 6), np.nan)), "nan や inf が含まれています")


def test_pil_image_and_tensors_on_other_layouts_are_read_as_arrays():
    from PIL import Image

    photo = np.random.default_rng(1).integers(0, 256, (5, 8, 3), dtype=np.uint8)
    ex = exercises("00")
    passes(ex.q2, (photo, Image.fromarray(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    passes(ex.q2, (torch.from_numpy(photo), torch.from_numpy(photo).flip(1)))
    passes(ex.q3, (photo, torch.from_numpy(photo).float() @ torch.tensor([0.299, 0.587, 0.114])))


def test_model_expected_but_something_else_received():
    q = exercises("05").q5
    fails(q, "モデル", "nn.Module（モデル）を渡してください", "文字列 'モデル'")
    fails(q, nn.Linear(2, 2), "モデルに形 (3, 1, 28, 28) の入力を通すと、エラーになりました: RuntimeError",
          "形・型・デバイスが合っていない", "エラーの文: mat1 and mat2")

    class TupleOut(nn.Module):
        def forward(self, x):
            return "logits"

    fails(q, TupleOut(), "モデルの出力は数の並び", "文字列 'logits'")
    fails(q, nn.Sequential(*[nn.Linear(2000, 2000) for _ in range(4)]), "パラメータ数が 16,008,000 です")


def test_a_function_that_raises_is_reported_in_japanese_first():
    def broken(X, y, W, b):
        return undefined_name  # noqa: F821  学習者の打ち間違い

    message = fails(exercises("01").q4, broken,
                    "関数 broken を呼ぶと、エラーになりました: NameError（まだ定義されていない名前",
                    "上のセルを実行したか", "別のセルで 1 度そのまま実行して")
    assert "エラーの文: name 'undefined_name' is not defined" in message.splitlines()[1]
    fails(exercises("06").q3, lambda X, p: X.reshape(7), "渡された関数（lambda）を呼ぶと、エラーになりました: "
          "RuntimeError（PyTorch の計算で")
    fails(exercises("07").q3, lambda logits, k: logits[5000], "IndexError（添字が範囲の外です）")

    def freeze_except_head(model):
        model.head.requires_grad_(False)  # timm の EfficientNet には head がない

    fails(exercises("08").q3, freeze_except_head,
          "関数 freeze_except_head を呼ぶと、エラーになりました: AttributeError（その値が持っていない属性",
          "no attribute 'head'")


def test_an_unexpected_error_in_a_checker_names_what_was_expected():
    q = Exercise("例", lambda answer: answer.missing_attribute, ["ヒント"], "答え",
                 expects="数 1 つ")
    message = fails(q, 5, "答えを調べられませんでした。数 1 つを渡してください（渡されたもの: 整数 5（int））")
    assert message.splitlines()[1].strip().startswith("詳しい情報: AttributeError")


def test_check_with_a_keyword_or_called_directly_says_how_to_call(capsys):
    q = exercises("01").q2
    q.check(answer=7850)
    assert "check には答えをそのまま渡してください" in capsys.readouterr().out
    q(7850)
    assert "ex.q1.check(答え) のように .check を付けて" in capsys.readouterr().out
    with pytest.raises(AttributeError, match="使えるのは .check"):
        q.chek(7850)


def test_no_english_exception_text_as_the_main_message_for_the_issue_cases():
    """issue の英語の文（too many values to unpack など）が出ていた答えを、まとめて確かめる。"""
    photo = np.zeros((4, 6, 3))
    cases = [(exercises("00").q2, (photo, photo, photo)), (exercises("00").q2, torch.tensor(5)),
             (exercises("00").q3, (photo, ["a", "b"])), (exercises("01").q2, math.nan),
             (exercises("04").q1, lambda: None), (exercises("04").q1, torch.tensor(3)),
             (exercises("07").q2, float("nan")), (exercises("06").q1, "50")]
    english = ["too many values to unpack", "invalid data type", "cannot convert float NaN",
               "object is not iterable", "iteration over a 0-d tensor"]
    for q, answer in cases:
        correct, message = q.evaluate(answer)
        assert not correct and message.startswith("✗ ") and JAPANESE.search(message.splitlines()[0]), message
        assert not any(text in message for text in english), message


def test_08_count_expected_but_something_else_received():
    q = exercises("08").q2
    fails(q, "1281", "数を 1 つ渡してください", "文字列 '1281'（str）", "引用符で囲まずに")
    fails(q, torch.zeros(1, 1281), "テンソル（形 (1, 1281)、torch.float32）", ".item()")
    fails(q, (1280, 1), "タプル（tuple、長さ 2", "並びではなく")
    fails(q, nn.Linear(1280, 1), "数を 1 つ渡してください", "モデル（Linear）")
    fails(q, 1280.5, "整数ではありません")


def test_08_shape_with_numpy_integers_and_as_a_list():
    q = exercises("08").q1
    passes(q, tuple(np.int64(v) for v in (1280, 2, 2)))
    passes(q, (np.int32(1280), np.int16(2), np.uint8(2)))
    passes(q, [1280, 2, 2])
    passes(q, np.array([1280, 2, 2]))
    passes(q, np.array([1280.0, 2.0, 2.0], dtype=np.float32))
    passes(q, torch.Size([1280, 2, 2]))
    passes(q, (torch.tensor(1280), torch.tensor(2), torch.tensor(2)))


def test_08_shape_expected_but_something_else_received():
    q = exercises("08").q1
    fails(q, "(1280, 2, 2)", "(チャンネル, 高さ, 幅) の 3 つの整数のタプル", "文字列 '(1280, 2, 2)'（str）")
    fails(q, torch.zeros(1, 1280, 2, 2), "テンソルではなく、形（.shape かタプル）",
          "テンソル（形 (1, 1280, 2, 2)、torch.float32）")
    fails(q, torch.tensor(1280), "テンソルではなく", "テンソル（形 ()")
    fails(q, 2, "3 つの整数のタプルで答えてください", "整数 2（int）")
    for pooled in (1280, 1280.0, np.int64(1280), np.float32(1280)):
        fails(q, pooled, "全体の平均プーリング", "3 つの整数のタプルで答えてください")
    fails(q, 2.5, "3 つの整数のタプル", "小数 2.5（float）")
    fails(q, True, "3 つの整数のタプル", "真偽値 True（bool）")
    fails(q, np.array(1280), "3 つの整数のタプル", "NumPy の配列（形 ()、int64）")
    fails(q, np.ones((3, 1)), "3 つの整数のタプル", "NumPy の配列（形 (3, 1)、float64）")
    fails(q, lambda: (1280, 2, 2), "3 つの整数のタプル", "関数 <lambda>")
    fails(q, nn.Linear(1280, 1), "3 つの整数のタプル", "モデル（Linear）")
    fails(q, {"shape": (1280, 2, 2)}, "3 つの整数のタプル", "辞書（dict")
    fails(q, (1280, "2", 2), "形の 2 番目には数を 1 つ", "文字列 '2'")
    fails(q, (1280, 2.5, 2), "形の 2 番目が 2.5 で、整数ではありません")
    fails(q, (1280, 2, None), "形の 3 番目には数を 1 つ", "None")
    fails(q, ((1280, 2), 2), "形の 1 番目には数を 1 つ")
    fails(q, 10 ** 400, "3 つの整数のタプル", "とても大きな整数")
    for answer in ("1280", 2, True, (1280, "2", 2), lambda: None, np.array(1280), np.ones((3, 1))):
        message = q.evaluate(answer)[1]
        assert "(1, 8, 12, 12)" not in message and "詳しい情報" not in message, message


def test_08_a_model_or_its_result_instead_of_the_function():
    q = exercises("08").q3
    fails(q, nn.Sequential(nn.Linear(1280, 1)), "モデルではなく", "関数そのもの（名前だけ、かっこなし）")
    fails(q, "freeze_except_head", "関数そのもの", "文字列 'freeze_except_head'")
    correct, message = q.evaluate(None)  # check(freeze_except_head(model)) は None を渡す
    assert not correct and "まだ答えが入っていません" in message
