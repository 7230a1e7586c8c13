"""汎用の学習ループ fit と評価 evaluate（03 以降で使う。01 では同じ処理を手で書く）。"""

from __future__ import annotations

import re
import time
from typing import Callable, Iterable

import torch
from torch import nn
from course_utils.env import progress_bar_class
from course_utils.setup import is_quick

tqdm = progress_bar_class()  # Jupyter で ipywidgets があれば棒、なければ文字だけの進み具合の表示

QUICK_MAX_EPOCHS = 3  # クイックモードでのエポック数の上限
AMP_DEVICE_TYPES = {"cuda"}  # 混合精度を使うデバイス（CPU では遅くなるだけなので使わない）


def predict_labels(y_hat: torch.Tensor) -> torch.Tensor:
    """モデルの出力（ロジット）から予測ラベルを返す。

    出力が 1 列（2 値分類の 1 ロジット）なら 0 より大きいかで 0/1、多クラスなら argmax。
    """
    if y_hat.ndim == 1 or y_hat.shape[1] == 1:
        return (y_hat.reshape(-1) > 0).long()
    return y_hat.argmax(dim=1)


def _forward(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """model(X) を計算する。モデルとデータの形の食い違いや、view のエラーには日本語の説明を添える。

    元のエラーは「The above exception was the direct cause」として下に残る（型も同じ RuntimeError）。
    add_note は使わない（Colab の IPython 7 は note を表示しない）。
    """
    try:
        return model(X)
    except RuntimeError as error:
        explanation = _explain_forward_error(str(error), X)
        if explanation is None:
            raise
        raise RuntimeError(f"{explanation}（元のエラー: {error}）") from error


def _explain_forward_error(message: str, X: torch.Tensor) -> str | None:
    """順伝播のエラー文から、日本語の説明を作る。知らないエラーなら None。"""
    if "view size is not compatible" in message:
        return ("モデルの中の .view(...) が、メモリ上の並びが連続していないテンソルに使われました"
                "（channels_last の並びの画像や、転置・切り出しをしたテンソルで起こります）。"
                "x.view(len(x), -1) の代わりに x.reshape(len(x), -1) か x.flatten(1) を使うと動きます。")
    mismatch = _shape_mismatch(message, X)
    if mismatch is None:
        return None
    return (f"モデルとデータの形が合っていません。{mismatch}"
            f"渡したミニバッチ X の形は {tuple(X.shape)} です。"
            "よくある原因は、モデルを定義するセルを飛ばして、前に別の形のデータ用に作った"
            "同じ名前のモデルを使っていることです。モデルを定義するセル（model = ...）から"
            "順に実行し直してください（JupyterLab: Run → Run All Above Selected Cell、"
            "Colab: ランタイム → 前のセルを実行）。")


_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied "
                     r"\((\d+)x(\d+) and (\d+)x(\d+)\)")
_CHANNELS = re.compile(r"expected input\[[\d, ]+\] to have (\d+) channels, but got (\d+) channels")
_CONV_INPUT = re.compile(r"Expected \dD \(unbatched\) or \dD \(batched\) input to (conv\dd), "
                         r"but got input of size: \[([\d, ]+)\]")


def _shape_mismatch(message: str, X: torch.Tensor) -> str | None:
    """形の食い違いのエラーなら、どの層が何を待ち、何が届いたかの文。ほかのエラーなら None。"""
    if match := _MATMUL.search(message):
        got, wanted = int(match[2]), int(match[3])
        per_image = X[0].numel() if X.ndim > 1 else None
        origin = (f"（{got} は画像 1 枚 {tuple(X.shape[1:])} の値の数です）"
                  if got == per_image and X.ndim > 2 else "")
        return (f"モデルの中の全結合層（nn.Linear）は 1 件あたり {wanted} 個の値を受け取るように"
                f"作られていますが、届いたのは {got} 個です{origin}。")
    if match := _CHANNELS.search(message):
        wanted, got = int(match[1]), int(match[2])
        return (f"モデルの畳み込み層は {wanted} チャンネルの画像を受け取るように作られていますが、"
                f"届いた画像は {got} チャンネルです（白黒の画像は 1、カラーの画像は 3 チャンネル）。")
    if match := _CONV_INPUT.search(message):
        return (f"モデルの畳み込み層（{match[1]}）は (チャンネル, 高さ, 幅) の形の画像を受け取りますが、"
                f"届いたのは形 [{match[2]}] の入力です（平らなベクトルにした画像など）。")
    return None


def _correct(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 件ごとに、予測が正解なら True（テンソルのまま。GPU で CPU と同期しないように）。"""
    return predict_labels(y_hat) == y.reshape(-1).long()


def _count_correct(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _correct(y_hat, y).sum()


@torch.no_grad()
def correct_per_sample(model: nn.Module, loader: Iterable,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """データ 1 件ごとに、予測が正解なら True を並べた 1 次元テンソル（CPU）を返す。

    2 つのモデルを同じ検証画像で比べる（片方だけが正解した枚数を数える）ときに使う（05・06）。
    """
    model.eval()
    return torch.cat([_correct(_forward(model, X.to(device)), y.to(device)).cpu()
                      for X, y in loader])


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable,
             device: torch.device | str = "cpu") -> tuple[float, float]:
    """データ全体での (平均損失, 正解率) を返す。正解率は 0〜1。

    損失と正解の数はデバイスの上で足し合わせ、最後に 1 回だけ CPU に読み出す
    （GPU ではミニバッチごとに読み出すと、そのたびに GPU の計算が終わるのを待つことになる）。
    """
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    count = 0
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        y_hat = _forward(model, X)
        total_loss += loss_fn(y_hat, y).float() * len(y)
        correct += _count_correct(y_hat, y)
        count += len(y)
    return total_loss.item() / count, correct.item() / count


def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable | None,
        loss_fn: Callable, optimizer: torch.optim.Optimizer, num_epochs: int,
        device: torch.device | str = "cpu", scheduler=None,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        progress: bool = True,
        on_epoch_end: Callable[[int, dict], bool | None] | None = None,
        max_grad_norm: float | None = None, mixed_precision: bool = False
        ) -> dict[str, list[float]]:
    """model を num_epochs エポック学習し、エポックごとの記録 history を返す（03 で導入）。

    history のキー: train_loss, train_acc（学習中の平均）, val_loss, val_acc
    （各エポック後に val_loader の検証データで評価）, seconds（そのエポックの秒数）。
    テストデータは渡しません。学習の途中で見るのは検証データだけで、テストデータは
    すべてを決めた後に evaluate で 1 回だけ測ります（01 で説明）。
    val_loader を None にすると、検証データでの評価を省く。
    scheduler を渡すと、ミニバッチごとに scheduler.step() を呼ぶ。
    augment を渡すと、訓練のミニバッチの画像 X に augment(X) をかけてから使う（データ拡張）。
    on_epoch_end を渡すと、各エポックの後に on_epoch_end(エポック番号（1 から）, history) を呼び、
    True が返れば学習を打ち切る（05 の早期終了）。
    max_grad_norm を渡すと、勾配全体の大きさ（ノルム）をその値までに切り詰める（06 の勾配クリッピング）。
    mixed_precision=True なら、GPU では順伝播を float16 で計算する（06 の混合精度。CPU では何もしない）。
    そのときはオプティマイザを fused=True で作ると、GradScaler が 1 ステップごとに CPU と同期しない
    （fused でないと、勾配に inf がないかを毎回 CPU で確かめる）。
    """
    if is_quick() and num_epochs > QUICK_MAX_EPOCHS:
        print(f"クイックモードなので {num_epochs} エポックを {QUICK_MAX_EPOCHS} に減らします。")
        num_epochs = QUICK_MAX_EPOCHS
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": []}
    if val_loader is not None:
        history["val_loss"], history["val_acc"] = [], []
    history["seconds"] = []
    device_type = torch.device(device).type
    use_amp = mixed_precision and device_type in AMP_DEVICE_TYPES
    scaler = torch.amp.GradScaler(device_type, enabled=use_amp)  # float16 の勾配が 0 に潰れないように
    bar = tqdm(total=num_epochs * len(train_loader), desc="学習", unit="バッチ",
               disable=not progress, mininterval=1.0)
    for epoch in range(num_epochs):
        start = time.perf_counter()
        model.train()
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        count = 0
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            if augment is not None:
                X = augment(X)
            with torch.autocast(device_type, dtype=torch.float16, enabled=use_amp):
                y_hat = _forward(model, X)
                loss = loss_fn(y_hat, y)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            if max_grad_norm is not None:
                scaler.unscale_(optimizer)  # 本来の大きさの勾配で測る
                nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None:
                scheduler.step()
            # 損失と正解の数はテンソルのまま足す（.item() や float() で読むと、GPU ではそのたびに
            # CPU が GPU の計算の終わりを待つ）。CPU に読み出すのはエポックの終わりの 1 回だけ
            total_loss += loss.detach().float() * len(y)
            correct += _count_correct(y_hat.detach(), y)
            count += len(y)
            bar.update(1)  # 進み具合の表示は、ステップの数（CPU にある値）だけで更新する
        train_loss = total_loss.item() / count
        history["train_loss"].append(train_loss)
        history["train_acc"].append(correct.item() / count)
        if val_loader is not None:
            val_loss, val_acc = evaluate(model, val_loader, loss_fn, device)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
        history["seconds"].append(time.perf_counter() - start)
        bar.set_postfix_str(f"エポック {epoch + 1}/{num_epochs} 損失 {train_loss:.4f}"
                            + _accuracy_text(history))
        if on_epoch_end is not None and on_epoch_end(epoch + 1, history):
            break
    bar.close()
    epochs = len(history["train_loss"])
    stopped = f"（{num_epochs} エポックの途中で打ち切り）" if epochs < num_epochs else ""
    print(f"学習完了: {epochs} エポック{stopped},{_accuracy_text(history, '最終')}, "
          f"{sum(history['seconds']):.1f} 秒")
    return history


def _accuracy_text(history: dict[str, list[float]], prefix: str = "") -> str:
    if "val_acc" not in history:
        return f" {prefix}訓練正解率 {history['train_acc'][-1]:.2%}"
    return f" {prefix}検証正解率 {history['val_acc'][-1]:.2%}"
