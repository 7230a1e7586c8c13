import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import plots
from course_utils.setup import register_japanese_font


@pytest.fixture(autouse=True)
def japanese_font():
    register_japanese_font()
    yield
    plt.close("all")


def _draw(fig):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 字形が欠けると警告が出る
        fig.canvas.draw()


def test_confusion_matrix_counts_pairs():
    y = [0, 0, 1, 2, 2, 2]
    y_hat = [0, 1, 1, 2, 0, 2]
    expected = np.zeros((3, 3), dtype=int)
    for t, p in zip(y, y_hat):
        expected[t, p] += 1
    assert np.array_equal(plots.confusion_matrix(y, y_hat, 3), expected)
    assert plots.confusion_matrix(y, y_hat, 3).sum() == len(y)


def test_plot_confusion_matrix_labels_axes_in_japanese():
    fig = plots.plot_confusion_matrix([0, 1, 1], [0, 1, 0], class_names=["4", "9"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "予測ラベル" and ax.get_ylabel() == "正解ラベル"
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "1", "1"]
    _draw(fig)


def test_show_digits_titles_each_image():
    images = np.random.rand(12, 1, 28, 28)
    fig = plots.show_digits(images, labels=list(range(12)), ncols=6)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [str(i) for i in range(12)]
    _draw(fig)


def test_show_predictions_marks_right_and_wrong():
    fig = plots.show_predictions(np.zeros((2, 28, 28)), y=[7, 4], y_hat=[7, 9])
    right, wrong = (ax.title for ax in fig.axes[:2])
    assert right.get_text() == "✓ T:7 P:7" and wrong.get_text() == "✗ T:4 P:9"
    assert right.get_color() == "tab:green" and wrong.get_color() == "tab:red"
    _draw(fig)


def test_plot_history_uses_the_course_colours_and_styles():
    history = {"train_loss": [0.9, 0.5, 0.3], "val_loss": [0.8, 0.6, 0.7],
               "val_acc": [0.7, 0.8, 0.85]}
    fig = plots.plot_history(history, baseline=0.5)
    loss_ax, acc_ax = fig.axes
    lines = {line.get_label(): line for line in loss_ax.get_lines() + acc_ax.get_lines()}
    assert {name: line.get_color() for name, line in lines.items()} == {
        "訓練損失": "blue", "検証損失": "green", "検証正解率": "red", "ベースライン（50.0%）": "red"}
    assert list(lines["検証正解率"].get_ydata()) == pytest.approx([70, 80, 85])
    assert loss_ax.get_xlabel() == "エポック" and "正解率" in acc_ax.get_ylabel()
    _draw(fig)


def test_plot_history_curves_differ_without_colour():
    # 色が見分けにくくても、線の種類と印の組で 4 本を区別できる
    history = {"train_loss": [0.9, 0.5], "val_loss": [0.8, 0.6], "val_acc": [0.7, 0.8]}
    fig = plots.plot_history(history, baseline=0.5)
    lines = fig.axes[0].get_lines() + fig.axes[1].get_lines()
    looks = {(line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(looks) == len(lines) == 4
    _draw(fig)


def test_plot_history_draws_into_a_given_axes_and_without_validation():
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    assert plots.plot_history({"train_loss": [0.9, 0.5]}, ax=right) is fig
    assert not left.get_lines()
    assert [line.get_label() for line in right.get_lines()] == ["訓練損失"]
    _draw(fig)


def test_denormalize_inverts_normalize():
    import torch
    from course_utils.data import mnist_transform

    image = np.arange(0, 256, dtype=np.uint8)[:196].reshape(14, 14)
    normalized = mnist_transform("mnist")(image)
    assert torch.allclose(plots.denormalize(normalized), torch.tensor(image / 255.0).float(),
                          atol=1e-6)


def test_computation_graph_writes_each_value_and_gradient():
    nodes = {"x": (0, 1, "x", "value"), "w": (0, -1, "w", "value"),
             "mul": (1.5, 0, "×", "op"), "out": (3, 0, "out", "value")}
    edges = [("x", "mul", 2.0, -0.5), ("w", "mul", -0.5, 2.0), ("mul", "out", -1.0, 1.0)]
    fig = plots.plot_computation_graph(nodes, edges, title="計算グラフ")
    _draw(fig)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for name in ("x", "w", "×", "out"):
        assert name in texts
    for value, grad in [("2", "[-0.5]"), ("-0.5", "[2]"), ("-1", "[1]")]:
        assert value in texts and grad in texts
    # 勾配は色のほかに斜体と括弧でも区別できる
    assert all(t.get_style() == "italic" for t in fig.axes[0].texts if t.get_text().startswith("["))


def test_top5_figure_stays_readable_at_notebook_width():
    """07 の top-5 の図（写真 + 10 モデル）: 出力欄の幅に縮めても、クラス名が 9 ピクセル以上の高さで読める。"""
    labels = ["エジプシャン・マウ\nEgyptian cat", "トラネコ\ntabby", "ぶち猫\ntiger cat", "オオヤマネコ\nlynx",
              "ペルシャ猫\nPersian cat"]
    results = [(f"モデル{k}", [0.6, 0.2, 0.1, 0.05, 0.05], labels, k % 3 != 0) for k in range(10)]
    fig = plots.plot_top5(np.zeros((32, 48, 3)), "chelsea.png", results)
    assert plots.smallest_text_px(fig) >= plots.READABLE_PX
    old = plt.figure(figsize=(4.6 * 5, 3.2 * 3))  # 前の 5 列の図では 8.5 ポイントの文字が 4 ピクセルだった
    old.text(0.5, 0.5, "トラネコ", fontsize=8.5)
    assert plots.smallest_text_px(old) < 5
    plt.close("all")
