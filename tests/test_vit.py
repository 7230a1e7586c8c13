"""06 のノートブックに書いた ViT と学習の工夫を、ノートブックのセルを実行して確かめる。

GPU の設定と混合精度（float16）の学習も、CPU の float16 で同じ手順を通して確かめる
（この講座のテスト環境には GPU がないため）。
"""

import math

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import ROOT
from course_utils import training
from course_utils.data import FastLoader
from course_utils.training import fit


@pytest.fixture(scope="module")
def vit():
    """ノートブックのうち、関数とクラスを定義するセルだけを実行した名前空間。"""
    nb = nbformat.read(ROOT / "notebooks" / "06_vision_transformer.ipynb", as_version=4)
    namespace = {"torch": torch, "nn": nn, "F": F, "math": math}
    exec("from dataclasses import dataclass", namespace)
    wanted = ("def attention(", "class SelfAttention(", "@dataclass\nclass ViTConfig",
              "def random_affine(")
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(wanted):
            source = cell.source.split("\n\n\ntorch.manual_seed")[0]  # 後ろの試し実行は除く
            exec(compile(source, "06_vision_transformer.ipynb", "exec"), namespace)
    # GPU 用の設定の行も、ノートブックに書いたとおりに読む
    line = next(line for cell in nb.cells for line in cell.source.splitlines()
                if line.startswith("gpu_config = "))
    exec(line, namespace)
    return namespace


def test_cpu_config_size_and_shapes(vit):
    model = vit["ViT"](vit["ViTConfig"]())
    assert sum(p.numel() for p in model.parameters()) == 139_018
    x = torch.randn(3, 1, 28, 28)
    assert model.tokens(x).shape == (3, 17, 64) and model(x).shape == (3, 10)


def test_hand_written_attention_matches_the_fast_one(vit):
    torch.manual_seed(0)
    attn = vit["SelfAttention"](32, 4)
    x = torch.randn(2, 17, 32)
    fast, none = attn(x)
    slow, weights = attn(x, return_weights=True)
    assert none is None and weights.shape == (2, 4, 17, 17)
    assert torch.allclose(fast, slow, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 17))


def test_random_affine_keeps_the_digit_near_its_place(vit):
    torch.manual_seed(0)
    X = torch.full((500, 1, 28, 28), -0.5)
    X[:, 0, 13:15, 13:15] = 2.0  # 中央の小さな四角
    Y = vit["random_affine"](X)
    assert Y.shape == X.shape and Y.min() >= -0.5 - 1e-5  # 背景の値で埋まる
    w = (Y[:, 0] + 0.5).clamp(min=0)
    grid = torch.arange(28.0)
    cy = (w.sum(2) * grid).sum(1) / w.sum((1, 2))
    cx = (w.sum(1) * grid).sum(1) / w.sum((1, 2))
    assert (cy - 13.5).abs().max() <= 2.1 and (cx - 13.5).abs().max() <= 2.1
    assert (cy - 13.5).abs().max() > 1.0  # 実際にずれている


def test_warmup_cosine_schedule(vit):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = vit["warmup_cosine"](opt, warmup_steps=10, total_steps=110)
    lrs = []
    for _ in range(110):
        lrs.append(scheduler.get_last_lr()[0])
        opt.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.5) and lrs[-1] < 0.001
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def test_gpu_config_trains_with_mixed_precision(vit, monkeypatch):
    """GPU の設定を、混合精度（float16 + GradScaler + 勾配クリッピング）の手順で 1 エポック学習する。"""
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.setattr(training, "AMP_DEVICE_TYPES", {"cuda", "cpu"})  # CPU でも float16 を使う
    config = vit["gpu_config"]
    assert config.patch_size == 4 and config.depth == 6  # GPU 用の大きめの設定
    torch.manual_seed(0)
    model = vit["ViT"](config)
    dtypes = []
    model.head.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    X, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    loader = FastLoader(X, y, batch_size=32, shuffle=True, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, loader, None, nn.CrossEntropyLoss(label_smoothing=0.1), optimizer, 1,
                  scheduler=vit["warmup_cosine"](optimizer, 1, 2), augment=vit["random_affine"],
                  max_grad_norm=1.0, mixed_precision=True, progress=False)
    assert torch.float16 in dtypes  # 順伝播は float16 で計算された
    assert math.isfinite(history["train_loss"][-1])
    changed = sum(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert changed > 0 and all(p.dtype == torch.float32 for p in model.parameters())
