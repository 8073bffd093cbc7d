"""Checkpoints: files of format 1 (written before the layers owned their state, and before the
strategies' arrays) still load and resume identically; files of format 2 hold the strategy's
state (Sparse Momentum's momentum window), checked like every array; other versions and other
files fail with a message naming the format."""
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from nn.helpers import tiny_data
from setcourse import MLP
from setcourse import checkpoint
from nn.helpers import SaveAtEpochEnd
from setcourse.evolution import DST, RigL, SET, SparseMomentum

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


def test_format_1_strategy_state_keeps_what_the_strategy_declares():
    # RigL's stop_step_ of commit 37cbd60 is no state of today's RigL: ignored, not set
    model = MLP.load(FIXTURES / "checkpoint_v1_rigl.npz")
    assert not hasattr(model.strategy_, "stop_step_")
    assert model.strategy_.state() == {"steps_per_epoch_": 3, "epochs_": 2, "first_step_": 0,
                                       "total_steps_": 6, "n_updates_": 3,
                                       "drop_fraction_": 0.0}


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
        assert meta["format_version"] == checkpoint.FORMAT_VERSION == 2
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
                                         r"reads format 1, 2"):
        MLP.load(tmp_path / "future.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a setcourse checkpoint"):
        MLP.load(tmp_path / "other.npz")


def test_checkpoint_module_does_not_import_the_model():
    source = Path(checkpoint.__file__).read_text()
    assert "model import" not in source and "from .model" not in source


# -- issue 17 item 1: a checkpoint is untrusted input ---------------------------------------
def fixture_arrays(name="set"):
    with np.load(FIXTURES / f"checkpoint_v1_{name}.npz") as archive:
        return dict(archive)


def with_meta(arrays, **changes):
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.items():
        target = meta
        *parents, last = key.split("__")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return {**arrays, "meta": np.array(json.dumps(meta))}


def edited(name, **edits):
    """The fixture ``name`` with arrays replaced (a value) or removed (None)."""
    return with_edits(fixture_arrays(name), **edits)


def with_edits(arrays, **edits):
    """``arrays`` (a dict, copied) with arrays replaced (a value, or a function of the old one)
    or removed (None); ``layer0__data`` names ``layer0.data``."""
    arrays = dict(arrays)
    for key, value in edits.items():
        key = key.replace("__", ".")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value(arrays[key]) if callable(value) else value
    return arrays


def duplicated(indices):
    indices = indices.copy()
    indices[1] = indices[0]
    return indices


def unsorted(indices):
    indices = indices.copy()
    indices[[0, 1]] = indices[[1, 0]]
    return indices


def nan_at(k):
    def change(values):
        values = values.copy()
        values.reshape(-1)[k] = np.nan
        return values
    return change


SET = fixture_arrays("set")
CRAFTED = [
    # data shorter than indices: two predicts gave different non-finite logits before
    ("short data", edited("set", layer0__data=lambda a: a[:10]),
     r"layer0.data has shape \(10,\); expected \(22,\)"),
    ("short velocity", edited("set", layer0__velocity=lambda a: a[:-1]),
     r"layer0.velocity has shape \(21,\); expected \(22,\)"),
    ("duplicate position", edited("set", layer0__indices=duplicated),
     r"layer0.indices has a duplicate connection in row 0 \(input \d then \d at positions 0, 1\)"),
    ("unsorted row", edited("set", layer0__indices=unsorted),
     r"layer0.indices has unsorted indices in row 0"),
    ("index too large", edited("set", layer0__indices=lambda a: a + 1000),
     r"layer0.indices must be in 0..4 \(n_in = 5\); got 100\d at position 0"),
    ("negative index", edited("set", layer0__indices=lambda a: a - 3),
     r"layer0.indices must be in 0..4 .*got -3 at position 0"),
    ("indptr not from 0", edited("set", layer0__indptr=lambda a: a + 1),
     r"layer0.indptr\[0\] is 1; a CSR index starts at 0"),
    ("indptr decreasing", edited("set", layer0__indptr=lambda a: np.r_[a[:2], a[1] - 1, a[3:]]
                                 .astype(a.dtype)),
     r"layer0.indptr decreases at row 1"),
    ("indptr end", edited("set", layer0__indptr=lambda a: np.r_[a[:-1], a[-1] - 1]
                          .astype(a.dtype)),
     r"layer0.indptr\[-1\] is 21, but there are 22 connections"),
    ("NaN weight", edited("set", layer0__data=nan_at(3)),
     r"layer0.data contains nan at index 3: every value must be finite"),
    ("inf bias", edited("set", layer1__bias=lambda a: a * np.inf),
     r"layer1.bias contains -?inf at index 0"),
    ("NaN dense velocity", edited("set", layer1__velocity=nan_at(7)),
     r"layer1.velocity contains nan at index \(1, 1\)"),
    ("float64 weights", edited("set", layer0__data=lambda a: a.astype(np.float64)),
     r"layer0.data has dtype float64 \(<f8\); expected float32"),
    ("big-endian weights", edited("set", layer0__data=lambda a: a.astype(">f4")),
     r"layer0.data has dtype >f4 \(>f4\); expected float32 \(native byte order\)"),
    ("int64 indices", edited("set", layer0__indices=lambda a: a.astype(np.int64)),
     r"layer0.indices has dtype int64 .*expected int32"),
    ("2-D bias", edited("set", layer1__bias=lambda a: a[None]),
     r"layer1.bias has shape \(1, 3\); expected 1 dimension\(s\) \(3,\)"),
    ("dropped array", edited("set", layer0__bias=None), r"missing layer0.bias"),
    ("extra array", {**SET, "layer0.extra": np.zeros(3, np.float32)},
     r"unexpected layer0.extra"),
    ("array of a layer that is not there", {**SET, "layer7.bias": np.zeros(3, np.float32)},
     r"unexpected array 'layer7.bias'"),
    ("dense weights transposed", edited("set", layer1__weights=lambda a: a.T.copy()),
     r"layer1.weights has shape \(6, 3\); expected \(3, 6\)"),
    ("DST thresholds", edited("dst", layer0__threshold=lambda a: a[:-1]),
     r"layer0.threshold has shape \(5,\); expected \(6,\)"),
    ("DST effective weights", edited("dst", layer0__weights=lambda a: a + 1),
     r"layer0.weights disagrees with dense_weights and threshold at 30 position\(s\)"),
    ("DST NaN threshold", edited("dst", layer1__threshold_velocity=nan_at(0)),
     r"layer1.threshold_velocity contains nan"),
    ("layer type", with_meta(SET, layers=["DenseLayer", "DenseLayer"]),
     r"layer0.weights.*missing|missing layer0.weights"),
    ("layer type not built", with_meta(edited("set", layer0__indptr=None, layer0__indices=None,
                                              layer0__data=lambda a: np.zeros((6, 5), np.float32),
                                              layer0__velocity=lambda a: np.zeros((6, 5), np.float32)),
                                       layers=["DenseLayer", "DenseLayer"]),
     r"unexpected layer0.data|layer 0 is a DenseLayer in the file, but"),
    ("unknown layer type", with_meta(SET, layers=["Pickle", "DenseLayer"]),
     r"meta 'layers'\[0\] is 'Pickle', not a layer type"),
    ("more hidden than layers", with_meta(SET, params__hidden=[6, 6]),
     r"meta 'layers' lists 2 layers, but hidden=\(6, 6\) makes 3"),
    ("hidden width", with_meta(SET, params__hidden=[7]), r"layer0.bias has shape \(6,\); "
                                                         r"expected \(7,\)"),
    ("n_classes", with_meta(SET, n_classes=4), r"layer1.bias has shape \(3,\); expected \(4,\)"),
    ("n_features 0", with_meta(SET, n_features=0), r"meta 'n_features' must be in 1..2147483647"),
    ("n_features float", with_meta(SET, n_features=5.0), r"meta 'n_features' must be a JSON int"),
    ("negative step", with_meta(SET, step=-1), r"meta 'step' must be in 0.."),
    ("unknown parameter", with_meta(SET, params__colour="red"),
     r"unknown hyper-parameter\(s\) colour"),
    ("bad parameter", with_meta(SET, params__lr=-1), r"lr must be a number in \(0, inf\); got -1"),
    ("bad seed", with_meta(SET, params__seed=True), r"seed must be an integer >= 0; got True"),
    ("bad topology", with_meta(SET, params__topology={"strategy": "os.system", "params": {}}),
     r"topology must be a strategy name or"),
    ("bad strategy parameter", with_meta(SET, params__topology={"strategy": "rigl",
                                                                "params": {"colour": 1}}),
     r"topology: .*unexpected keyword argument 'colour'"),
    ("rng state", with_meta(SET, rng_state={"bit_generator": "MT19937"}),
     r"meta 'rng_state' is not a state of numpy's PCG64"),
    ("strategy state name", with_meta(SET, strategy_state={"__class__": 1}),
     r"meta 'strategy_state' has the field '__class__'"),
    ("strategy state value", with_meta(SET, strategy_state={"threshold_": "x"}),
     r"meta 'strategy_state' 'threshold_' must be a finite number"),
    ("strategy counter", with_meta(fixture_arrays("rigl"), strategy_state__n_updates_=-1),
     r"meta 'strategy_state' 'n_updates_' must be an integer >= 0; got -1"),
    ("strategy fit position", with_meta(fixture_arrays("rigl"), strategy_state__first_step_=7),
     r"meta 'strategy_state' 'first_step_' is 7, but the fit of 6 steps it starts cannot be "
     r"at the checkpoint's step 6"),
    ("history", with_meta(SET, history={"epoch": {"a": 1}}), r"meta 'history' 'epoch' must be"),
    ("meta not an object", {**SET, "meta": np.array("[1, 2]")},
     r"meta must be a JSON object; got list"),
    ("meta not JSON", {**SET, "meta": np.array("{'a': 1")}, r"meta is not valid JSON"),
    ("meta not text", {**SET, "meta": np.zeros(3)}, r"meta must be JSON text"),
    ("no meta key", with_meta(SET, epoch=None), r"meta 'epoch' must be a JSON int; got None"),
]


@pytest.mark.parametrize("label, arrays, message", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_a_crafted_checkpoint_is_refused_naming_the_file_and_the_problem(tmp_path, label, arrays,
                                                                         message):
    path = tmp_path / "crafted.npz"
    np.savez(path, **arrays)
    with pytest.raises(checkpoint.CheckpointError, match=message) as caught:
        MLP.load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert isinstance(caught.value, ValueError) and caught.value.path == path


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    arrays = edited("set", layer0__data=lambda a: np.array(list(a) + [print], dtype=object))
    path = tmp_path / "pickled.npz"
    np.savez(path, **arrays)  # numpy pickles object arrays
    with pytest.raises(checkpoint.CheckpointError, match=r"array layer0.data holds Python "
                                                         r"objects \(dtype object\), which only "
                                                         r"a pickle can read"):
        MLP.load(path)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_file_names_the_file(tmp_path, cut):
    # raw BadZipFile / EOFError / KeyError without the file's name before
    raw = (FIXTURES / "checkpoint_v1_set.npz").read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[:int(len(raw) * cut)])
    with pytest.raises(checkpoint.CheckpointError, match=rf"^{re.escape(str(path))}: .*"
                                                         rf"(truncated|damaged)"):
        MLP.load(path)


def test_a_flipped_byte_in_an_array_is_caught_by_the_checksum(tmp_path):
    raw = bytearray((FIXTURES / "checkpoint_v1_set.npz").read_bytes())
    start = raw.index(b"layer0.data.npy") + len("layer0.data.npy") + 128 + 20  # in the values
    raw[start] ^= 0x40
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match=r"array layer0.data: Bad CRC-32"):
        MLP.load(path)


def test_not_a_checkpoint_at_all(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello")
    with pytest.raises(checkpoint.CheckpointError, match=r"notes.npz: not a readable .npz "
                                                         r"archive \(File is not a zip file\)"):
        MLP.load(path)
    with pytest.raises(FileNotFoundError):  # a missing file says so already
        MLP.load(tmp_path / "missing.npz")


def test_a_huge_n_features_is_refused_with_the_figure_before_allocating(tmp_path):
    # n_features = 1e9 asked numpy for 164 GiB before; a fresh process with its address space
    # capped at 6 GiB makes a regression a MemoryError, not a machine out of memory
    import subprocess
    import sys
    path = tmp_path / "huge.npz"
    np.savez(path, **with_meta(SET, n_features=10**9))
    code = f"""if True:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))
        from setcourse import MLP
        from setcourse.checkpoint import CheckpointError
        try:
            MLP.load({str(path)!r})
        except CheckpointError as error:
            print(error)
    """
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "SETCOURSE_MAX_MEMORY": "16G"})
    assert result.returncode == 0, result.stderr
    assert re.match(rf"{re.escape(str(path))}: the model of this checkpoint would need about "
                    rf"1\d\d GiB of memory, more than the 16 GiB of SETCOURSE_MAX_MEMORY=16G "
                    rf"\(layer 0 \(1000000000 -> 6\), the largest: 2e\+09 connections",
                    result.stdout), result.stdout


def test_a_loaded_checkpoint_predicts_the_same_twice_and_trains():
    X, y = fixture_data()
    for name in ("set", "dst", "rigl"):
        model = MLP.load(FIXTURES / f"checkpoint_v1_{name}.npz")
        first = model.decision_function(X)
        np.testing.assert_array_equal(first, model.decision_function(X))
        assert np.isfinite(first).all()


def test_a_flipped_byte_in_a_large_array_header_reads_as_damage_not_as_a_pickle(tmp_path):
    # "contains pickled data" before: the header's dtype flipped to 'O' is parsed before the
    # member's CRC-32 is reached (members over 4 KiB are not read whole with the header)
    X = np.random.default_rng(0).normal(size=(40, 30)).astype(np.float32)
    y = np.arange(40) % 3
    path = MLP(hidden=(60,), topology="dense", epochs=1, seed=1).fit(X, y).save(tmp_path / "m.npz")
    raw = bytearray(path.read_bytes())
    member = raw.index(b"layer0.velocity.npy")
    descr = raw.index(b"'descr': '<f4'", member)
    raw[descr + len("'descr': '") + 1] = ord("O")  # '<f4' -> '<O4'
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match=r"array layer0.velocity: Bad CRC-32 "
                                                         r"for file 'layer0.velocity.npy'; the "
                                                         r"file is damaged"):
        MLP.load(bad)


# -- the strategy's state: Sparse Momentum's momentum window, the fit's position ------------
@pytest.fixture(scope="module")
def momentum_file(tmp_path_factory):
    """A Sparse Momentum checkpoint written 2 epochs into a fit of 4, its window open: layers
    5 -> 6 and 6 -> 4 sparse (one momentum each), the classifier 4 -> 3 dense (none)."""
    X, y = fixture_data()
    path = tmp_path_factory.mktemp("momentum") / "sm.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLP(hidden=(6, 4), topology=SparseMomentum(), epsilon=2, epochs=4,
                    batch_size=8, seed=1).fit(X, y, callbacks=[SaveAtEpochEnd(1, path)])
    assert [layer.sparse for layer in model.layers_] == [True, True, False]
    with np.load(path) as archive:
        arrays = dict(archive)
    assert sorted(k for k in arrays if k.startswith("strategy.")) == ["strategy.momentum0",
                                                                      "strategy.momentum1"]
    return arrays


MOMENTUM_CRAFTED = [
    ("NaN momentum", dict(strategy__momentum0=nan_at(4)),
     r"strategy.momentum0 contains nan at index \(0, 4\): every value must be finite"),
    ("inf momentum", dict(strategy__momentum1=lambda a: a * np.inf),
     r"strategy.momentum1 contains -?inf at index"),
    ("transposed momentum", dict(strategy__momentum0=lambda a: a.T.copy()),
     r"strategy.momentum0 has shape \(5, 6\); expected \(6, 5\)"),
    ("short momentum", dict(strategy__momentum1=lambda a: a[:-1]),
     r"strategy.momentum1 has shape \(3, 6\); expected \(4, 6\)"),
    ("flat momentum", dict(strategy__momentum0=lambda a: a.reshape(-1)),
     r"strategy.momentum0 has shape \(30,\); expected 2 dimension\(s\) \(6, 5\)"),
    ("float64 momentum", dict(strategy__momentum0=lambda a: a.astype(np.float64)),
     r"strategy.momentum0 has dtype float64 \(<f8\); expected float32"),
    ("big-endian momentum", dict(strategy__momentum1=lambda a: a.astype(">f4")),
     r"strategy.momentum1 has dtype >f4 .*expected float32 \(native byte order\)"),
    ("one momentum missing", dict(strategy__momentum1=None), r"missing strategy.momentum1"),
    ("all momentum missing", dict(strategy__momentum0=None, strategy__momentum1=None),
     r"missing strategy.momentum0, strategy.momentum1: meta 'strategy_state' says the "
     r"momentum window was open at step 6"),
    ("unknown strategy array", dict(strategy__extra=np.zeros(3, np.float32)),
     r"unexpected strategy.extra"),
    ("strategy array name", {"strategy.Momentum0": np.zeros(3, np.float32)},
     r"unexpected array 'strategy.Momentum0'"),
]


@pytest.mark.parametrize("label, edits, message", MOMENTUM_CRAFTED,
                         ids=[c[0] for c in MOMENTUM_CRAFTED])
def test_corrupted_or_misshaped_momentum_is_refused_naming_it(tmp_path, momentum_file, label,
                                                              edits, message):
    path = tmp_path / "crafted.npz"
    np.savez(path, **with_edits(momentum_file, **edits))
    with pytest.raises(checkpoint.CheckpointError, match=message) as caught:
        MLP.load(path)
    assert str(caught.value).startswith(f"{path}: ")


STATE_CRAFTED = [
    ("negative first step", dict(first_step_=-1),
     r"meta 'strategy_state' 'first_step_' must be an integer >= 0; got -1"),
    ("zero steps per epoch", dict(steps_per_epoch_=0),
     r"meta 'strategy_state' 'steps_per_epoch_' must be an integer >= 1; got 0"),
    ("float epochs", dict(epochs_=2.5), r"meta 'strategy_state' 'epochs_' must be an integer"),
    ("total steps", dict(total_steps_=13),
     r"'total_steps_' is 13, but a fit of epochs_=4 at steps_per_epoch_=3 has 12 steps"),
    ("fit after the step", dict(first_step_=7),
     r"'first_step_' is 7, but the fit of 12 steps it starts cannot be at the checkpoint's "
     r"step 6"),
    ("horizon", dict(horizon_=0), r"'horizon_' must be an integer >= 1; got 0"),
    ("shares", dict(layer_shares_=[0.5, 2.0]),
     r"'layer_shares_'\[1\] must be a number in \[0, 1\]; got 2.0"),
    ("unknown field", dict(stop_step_=4),
     r"meta 'strategy_state' has the field\(s\) stop_step_, which SparseMomentum does not "
     r"keep \(it keeps steps_per_epoch_, epochs_, first_step_, total_steps_, horizon_"),
]


@pytest.mark.parametrize("label, changes, message", STATE_CRAFTED,
                         ids=[c[0] for c in STATE_CRAFTED])
def test_a_bad_strategy_state_is_refused_naming_the_field(tmp_path, momentum_file, label,
                                                          changes, message):
    meta = json.loads(str(momentum_file["meta"]))
    meta["strategy_state"].update(changes)
    path = tmp_path / "crafted.npz"
    np.savez(path, **{**momentum_file, "meta": np.array(json.dumps(meta))})
    with pytest.raises(checkpoint.CheckpointError, match=message):
        MLP.load(path)


def test_strategy_arrays_are_refused_in_format_1_and_for_a_dense_model(tmp_path, momentum_file):
    path = tmp_path / "crafted.npz"
    np.savez(path, **{**SET, "strategy.momentum0": np.zeros((6, 5), np.float32)})
    with pytest.raises(checkpoint.CheckpointError, match=r"unexpected array "
                                                         r"'strategy.momentum0' .*format 1 has "
                                                         r"no strategy arrays"):
        MLP.load(path)
    X, y = fixture_data()
    dense = MLP(hidden=(6,), topology="dense", epochs=1, seed=1).fit(X, y)
    with np.load(dense.save(tmp_path / "dense.npz")) as archive:
        arrays = dict(archive)
    np.savez(path, **{**arrays, "strategy.momentum0": momentum_file["strategy.momentum0"]})
    with pytest.raises(checkpoint.CheckpointError, match=r"unexpected array\(s\) "
                                                         r"strategy.momentum0: a dense model has "
                                                         r"no strategy"):
        MLP.load(path)


def test_a_momentum_file_of_format_1_loads_and_warns_that_the_window_restarts(tmp_path,
                                                                              momentum_file):
    # what a file written before format 2 held: no momentum, format_version 1
    arrays = {k: v for k, v in momentum_file.items() if not k.startswith("strategy.")}
    meta = json.loads(str(arrays["meta"]))
    meta["format_version"] = 1
    path = tmp_path / "old.npz"
    np.savez(path, **{**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.warns(UserWarning, match=r"format 1\) was written with Sparse Momentum's "
                                         r"momentum window open \(step 6\).*a resumed fit "
                                         r"restarts the window at zero"):
        model = MLP.load(path)
    assert model.strategy_.buffers_ is None
    X, y = fixture_data()
    model.set_params(warm_start=True).fit(X, y, epochs=2)  # the rest of the fit, window anew
    assert model.epoch_ == 4 and np.isfinite(model.history_["train_loss"]).all()


def test_a_momentum_file_reads_back_with_its_window(momentum_file, tmp_path):
    path = tmp_path / "sm.npz"
    np.savez(path, **momentum_file)
    model = MLP.load(path)
    for i, buffer in enumerate(model.strategy_.buffers_):
        np.testing.assert_array_equal(buffer, momentum_file[f"strategy.momentum{i}"])
        assert buffer.flags.c_contiguous and buffer.flags.writeable
    saved = model.save(tmp_path / "again.npz")
    assert not list(tmp_path.glob(".partial-*"))  # written atomically, as every checkpoint
    with np.load(saved) as archive:
        for key, value in momentum_file.items():
            np.testing.assert_array_equal(archive[key], value)
