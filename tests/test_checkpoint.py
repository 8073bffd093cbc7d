"""Checkpoints: files of format 1 (written before the layers owned their state) still load and
resume identically; other versions and other files fail with a message naming the format."""
import json
from pathlib import Path

import numpy as np
import pytest

from nn.helpers import tiny_data
from setcourse import MLP
from setcourse import checkpoint
from setcourse.evolution import DST, RigL, SET

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "checkpoint_v1_expected.json").read_text())


def fixture_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 5)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)


@pytest.mark.parametrize("name, strategy", [("set", SET), ("dst", DST), ("rigl", RigL)])
def test_format_1_files_load_and_resume_as_when_they_were_written(name, strategy):
    X, y = fixture_data()
    expected = EXPECTED[name]
    model = MLP.load(FIXTURES / f"checkpoint_v1_{name}.npz")
    assert type(model.strategy_) is strategy
    assert model.nnz_ == expected["nnz"]
    np.testing.assert_allclose(model.predict_proba(X), expected["proba"], atol=2e-6)
    model.set_params(warm_start=True).fit(X, y, epochs=1)
    assert model.history_["train_loss"] == expected["continued_train_loss"]


@pytest.mark.parametrize("topology", ["set", "fixprob", "dense"])
def test_save_load_round_trip_and_continue_identically(tmp_path, topology):
    X, y = tiny_data(n=120, n_features=15, n_classes=3)
    model = MLP(hidden=(25, 20), topology=topology, epsilon=3, epochs=2, batch_size=20,
                dropout=0.2, seed=1, warm_start=True).fit(X, y)
    path = model.save(tmp_path / "model.npz")
    assert not list(tmp_path.glob("*.tmp"))  # no temporary left behind
    loaded = MLP.load(path)
    assert loaded.get_params() == model.get_params()
    for a, b in zip(model.layers_, loaded.layers_):
        np.testing.assert_array_equal(a.weight_values(), b.weight_values())
        np.testing.assert_array_equal(a.weight_velocity, b.weight_velocity)
        np.testing.assert_array_equal(a.bias, b.bias)
        if a.sparse:
            np.testing.assert_array_equal(a.positions(), b.positions())
    np.testing.assert_array_equal(model.predict_proba(X), loaded.predict_proba(X))
    model.fit(X, y, epochs=2)
    loaded.fit(X, y, epochs=2)
    assert model.history_["train_loss"] == loaded.history_["train_loss"]


def test_a_new_file_reads_back_with_the_same_arrays(tmp_path):
    X, y = fixture_data()
    for topology in ("set", DST(alpha=1e-3), RigL(update_period=2), "dense"):
        model = MLP(hidden=(6,), topology=topology, epsilon=2, epochs=2, batch_size=8,
                    seed=1).fit(X, y)
        meta, arrays = checkpoint.read(model.save(tmp_path / "m.npz"))
        assert meta["format_version"] == checkpoint.FORMAT_VERSION == 1
        for i, layer in enumerate(model.layers_):
            for key, value in layer.state_arrays().items():
                np.testing.assert_array_equal(arrays[f"layer{i}.{key}"], value)


def test_unknown_format_version_names_the_format(tmp_path):
    X, y = fixture_data()
    path = MLP(hidden=(6,), epsilon=2, epochs=1, seed=1).fit(X, y).save(tmp_path / "m.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    meta = json.loads(str(arrays["meta"]))
    meta["format_version"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match=r"format_version 99 is not supported; this setcourse "
                                         r"reads format 1"):
        MLP.load(tmp_path / "future.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a setcourse checkpoint"):
        MLP.load(tmp_path / "other.npz")


def test_checkpoint_module_does_not_import_the_model():
    source = Path(checkpoint.__file__).read_text()
    assert "model import" not in source and "from .model" not in source
