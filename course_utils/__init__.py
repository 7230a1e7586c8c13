"""日本語深層学習講座の共通部品（データ・学習ループ・図・準備）。

各モジュールから明示的に import して使う:
    from course_utils.setup import setup_notebook
    from course_utils.data import load_mnist, mnist_loaders
    from course_utils.training import fit, evaluate
    from course_utils.plots import show_digits, plot_history
"""

__version__ = "0.1.0"
