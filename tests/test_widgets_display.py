"""対話的な部品の図の表示（出力欄の中身を直接書き換える方式）の検査。"""

import base64

import matplotlib.pyplot as plt
import torch
from torch import nn

from course_utils.widgets import MistakesBrowser, PredictionExplorer, show_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(output):
    (item,) = output.outputs
    assert item["output_type"] == "display_data"
    return base64.b64decode(item["data"]["image/png"])


def test_show_figure_replaces_the_output_with_one_png_and_closes_the_figure():
    import ipywidgets as widgets
    output = widgets.Output()
    for _ in range(2):  # 何度描き直しても、中身は最新の 1 枚だけ
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        show_figure(output, fig)
        assert _png(output).startswith(PNG_SIGNATURE)
        assert not plt.fignum_exists(fig.number)
    show_figure(output, None)
    assert output.outputs == ()


def test_explorer_and_browser_draw_without_a_front_end():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    X, y = torch.rand(12, 1, 28, 28), torch.arange(12) % 10
    explorer = PredictionExplorer(model, X, y)
    explorer.show(5)
    assert explorer.shown_index == 5 and _png(explorer.output).startswith(PNG_SIGNATURE)
    browser = MistakesBrowser(X, y, (y + 1) % 10, per_page=4)
    browser.show()
    assert _png(browser.output).startswith(PNG_SIGNATURE)
    browser.true_filter.value = 3
    browser.pred_filter.value = 3  # 正解も予測も 3 の間違いはない
    assert browser.output.outputs == () and "ありません" in browser.status.value
