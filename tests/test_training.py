import pytest
import torch
from torch import nn

from course_utils.training import evaluate, fit, predict_labels


def test_predict_labels_multiclass_and_single_logit():
    assert predict_labels(torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])).tolist() == [1, 0]
    assert predict_labels(torch.tensor([[0.3], [-0.2]])).tolist() == [1, 0]
    assert predict_labels(torch.tensor([-1.0, 2.0])).tolist() == [0, 1]


def _blobs(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    X = centers[y] + torch.randn(n, 2, generator=g)
    return X, y


def _loader(X, y, batch_size=50):
    return list(zip(X.split(batch_size), y.split(batch_size)))


def test_evaluate_matches_a_manual_computation():
    X, y = _blobs()
    model = nn.Linear(2, 3)
    loss_fn = nn.CrossEntropyLoss()
    loss, acc = evaluate(model, _loader(X, y, batch_size=64), loss_fn)
    with torch.no_grad():
        y_hat = model(X)
    assert abs(loss - float(loss_fn(y_hat, y))) < 1e-5
    assert acc == int((y_hat.argmax(1) == y).sum()) / len(y)


def test_fit_learns_and_records_history(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    torch.manual_seed(0)
    X, y = _blobs()
    model = nn.Linear(2, 3)
    history = fit(model, _loader(X, y), _loader(*_blobs(seed=1)), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=5, progress=False)
    assert set(history) == {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert all(len(v) == 5 for v in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] > 0.95
    assert "学習完了: 5 エポック" in capsys.readouterr().out


def test_fit_caps_epochs_in_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    X, y = _blobs()
    model = nn.Linear(2, 3)
    history = fit(model, _loader(X, y), _loader(X, y), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=40, progress=False)
    assert len(history["val_acc"]) == 3
    assert "3 に減らします" in capsys.readouterr().out


def test_fit_handles_one_logit_binary_models(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    torch.manual_seed(0)
    X, y = _blobs()
    X, y = X[y < 2], (y[y < 2] == 1).float()
    model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (B, 1) → (B,)
    history = fit(model, _loader(X, y), _loader(X, y), nn.BCEWithLogitsLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=3, progress=False)
    assert history["val_acc"][-1] > 0.95


def test_fit_applies_augment_to_training_batches_only(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    X, y = _blobs()
    seen = []

    def augment(batch):
        seen.append(len(batch))
        return batch + 0.01

    model = nn.Linear(2, 3)
    fit(model, _loader(X, y), _loader(X[:30], y[:30]), nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, augment=augment,
        progress=False)
    assert seen == [50] * 16  # 訓練の 8 ミニバッチ × 2 エポックだけ


def test_fit_records_the_validation_data_it_is_given(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    torch.manual_seed(0)
    X, y = _blobs()
    model = nn.Linear(2, 3)
    history = fit(model, _loader(X, y), _loader(*_blobs(seed=2)), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, progress=False)
    loss, acc = evaluate(model, _loader(*_blobs(seed=2)), nn.CrossEntropyLoss())
    assert history["val_loss"][-1] == pytest.approx(loss) and history["val_acc"][-1] == acc
    assert "最終検証正解率" in capsys.readouterr().out


def test_fit_without_validation_records_training_only(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    X, y = _blobs()
    model = nn.Linear(2, 3)
    history = fit(model, _loader(X, y), None, nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, progress=False)
    assert set(history) == {"train_loss", "train_acc", "seconds"}
    assert "最終訓練正解率" in capsys.readouterr().out


def test_fit_has_no_place_for_the_test_set():
    # テストデータは最後に evaluate で 1 回だけ測る。fit は学習中にテストデータを見ない
    import inspect
    assert not [name for name in inspect.signature(fit).parameters if "test" in name]


def test_fit_stops_when_on_epoch_end_returns_true(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    X, y = _blobs()
    calls = []

    def stop_after_three(epoch, history):
        calls.append((epoch, len(history["train_loss"])))
        return epoch == 3

    model = nn.Linear(2, 3)
    history = fit(model, _loader(X, y), _loader(X, y), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=10, progress=False,
                  on_epoch_end=stop_after_three)
    assert calls == [(1, 1), (2, 2), (3, 3)]
    assert all(len(v) == 3 for v in history.values())
    assert "3 エポック（10 エポックの途中で打ち切り）" in capsys.readouterr().out


def test_fit_clips_the_gradient_norm(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    X, y = _blobs()
    model = nn.Linear(2, 3)
    norms = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            grads = [p.grad.flatten() for p in model.parameters()]
            norms.append(float(torch.cat(grads).norm()))
            return super().step(closure)

    fit(model, _loader(X * 100, y), None, nn.CrossEntropyLoss(), Spy(model.parameters(), lr=1e-3),
        num_epochs=1, progress=False, max_grad_norm=0.5)
    assert norms and max(norms) <= 0.5 + 1e-6
    norms.clear()
    fit(model, _loader(X * 100, y), None, nn.CrossEntropyLoss(), Spy(model.parameters(), lr=1e-3),
        num_epochs=1, progress=False)
    assert max(norms) > 0.5  # 切り詰めなければ大きな勾配になる（上の検査が意味を持つ）


def test_mixed_precision_is_a_no_op_on_the_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    results = []
    for mixed in (False, True):
        torch.manual_seed(0)
        X, y = _blobs()
        model = nn.Linear(2, 3)
        fit(model, _loader(X, y), None, nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, progress=False,
            mixed_precision=mixed)
        results.append(model.weight.detach().clone())
    assert torch.equal(*results)


def test_a_view_on_channels_last_batches_gets_a_japanese_explanation():
    from course_utils.data import FastLoader

    class ViewCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 28 * 28, 10)

        def forward(self, x):
            return self.fc(self.conv(x).view(len(x), -1))

    X, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    loader = FastLoader(X, y, batch_size=16, channels_last=True)
    model = ViewCNN()
    with pytest.raises(RuntimeError, match="reshape"):
        fit(model, loader, None, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
            1, progress=False)
    with pytest.raises(RuntimeError, match="メモリ上の並び"):
        evaluate(model, loader, nn.CrossEntropyLoss())


def test_correct_per_sample_marks_each_sample_for_binary_and_multiclass_outputs():
    from course_utils.training import correct_per_sample

    X = torch.tensor([[2.0], [-1.0], [3.0], [-4.0]])
    y = torch.tensor([1, 1, 0, 0])
    binary = nn.Flatten(0)  # 出力 1 つ（ロジット）: 0 より大きければ 1
    assert correct_per_sample(binary, [(X[:2], y[:2]), (X[2:], y[2:])]).tolist() == [True, False, False, True]
    multi = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        multi.weight.copy_(torch.tensor([[-1.0], [1.0]]))  # x > 0 ならクラス 1
    assert correct_per_sample(multi, [(X, y)]).tolist() == [True, False, False, True]


def _fails_in_fit_and_evaluate(model, X):
    """fit と evaluate の両方で失敗させ、添えられた説明（同じ RuntimeError）を返す。"""
    loader = [(X, torch.zeros(len(X), dtype=torch.long))]
    errors = []
    for run in (lambda: fit(model, loader, None, nn.CrossEntropyLoss(),
                            torch.optim.SGD(model.parameters(), lr=0.1), 1, progress=False),
                lambda: evaluate(model, loader, nn.CrossEntropyLoss())):
        with pytest.raises(RuntimeError) as info:
            run()
        assert isinstance(info.value.__cause__, RuntimeError)  # 元のエラーも下に残る
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    return errors[0]


def test_a_model_made_for_other_data_gets_the_shapes_and_the_likely_cause():
    # 04 の CNN 用に作った model（全結合層が 1568 個を受け取る）が、03 の MLP のセルで使われたとき
    model = nn.Sequential(nn.Flatten(), nn.Linear(1568, 64), nn.ReLU(), nn.Linear(64, 10))
    text = _fails_in_fit_and_evaluate(model, torch.randn(128, 1, 28, 28))
    assert "1 件あたり 1568 個の値" in text and "届いたのは 784 個" in text
    assert "画像 1 枚 (1, 28, 28) の値の数" in text
    assert "ミニバッチ X の形は (128, 1, 28, 28)" in text
    assert "モデルを定義するセルを飛ばして" in text
    assert "mat1 and mat2 shapes cannot be multiplied (128x784 and 1568x64)" in text


def test_a_grayscale_model_given_colour_images_is_explained():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Flatten(), nn.LazyLinear(10))
    text = _fails_in_fit_and_evaluate(model, torch.randn(4, 3, 28, 28))
    assert "1 チャンネルの画像を受け取る" in text and "届いた画像は 3 チャンネル" in text
    assert "(4, 3, 28, 28)" in text and "モデルを定義するセル" in text


def test_a_cnn_given_flat_vectors_is_explained():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Flatten(), nn.LazyLinear(10))
    text = _fails_in_fit_and_evaluate(model, torch.randn(4, 784))
    assert "畳み込み層（conv2d）" in text and "形 [4, 784] の入力" in text


def test_other_runtime_errors_pass_through_unchanged():
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="^something else$"):
        evaluate(Broken(), [(torch.randn(2, 3), torch.zeros(2, dtype=torch.long))],
                 nn.CrossEntropyLoss())


def test_the_progress_bar_counts_in_japanese_units(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    X, y = _blobs()
    model = nn.Linear(2, 3)
    fit(model, _loader(X, y), None, nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=1)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert bar.startswith("学習: 100%") and "8/8" in bar, bar
    assert "バッチ/s" in bar or "s/バッチ" in bar, bar  # 速ければ「バッチ/s」、遅ければ「s/バッチ」
    assert "batch" not in bar and "it/s" not in bar and "エポック 1/1" in bar, bar
