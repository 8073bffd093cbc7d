"""The estimator: SET keeps its budget, seeds reproduce, files round-trip, bad input is named."""
import json

import numpy as np
import pytest

from setcourse.callbacks import Callback
from setcourse.checkpoint import CheckpointError
from setcourse.rbm import RBM
from setcourse.rbm.weights import SparseWeights

from rbm.reference import binary_data, dense_state

TIMING = ("seconds_sampling", "seconds_update", "seconds_evolution", "seconds_evaluation",
          "seconds_epoch")


def small(**params):
    params = {"n_hidden": 16, "topology": "set", "epsilon": 3.0, "epochs": 4, "batch_size": 10,
              "seed": 0, **params}
    return RBM(**params)


def data(n=120, n_visible=36, seed=0):
    X = binary_data(n, n_visible, seed=seed)
    return X[: n * 2 // 3], X[n * 2 // 3:]


def untimed(history):
    """The history without its timings, as text (so that NaN equals NaN)."""
    return json.dumps({key: values for key, values in history.items() if key not in TIMING},
                      sort_keys=True)


def test_set_keeps_the_number_of_connections_and_never_duplicates():
    X, X_test = data()
    model = small(epochs=6).fit(X, validation_data=X_test)
    w = model.weights_
    assert isinstance(w, SparseWeights)
    expected = round(3.0 * (36 + 16))  # epsilon (n_v + n_h) connections
    assert model.history_["nnz"] == [expected] * 6 and w.nnz == expected
    positions = w.positions()
    assert np.all(np.diff(positions) > 0)  # sorted and distinct
    assert w.indices.min() >= 0 and w.indices.max() < 36
    assert w.hidden_degrees().sum() == w.visible_degrees().sum() == expected
    np.testing.assert_array_equal(model.weight_matrix().shape, (36, 16))


def test_set_rewires_and_fixprob_does_not():
    X, _ = data()
    before = small(epochs=1).fit(X).weights_.positions()
    set_after = small(epochs=3).fit(X).weights_.positions()
    fixprob_after = small(topology="fixprob", epochs=3).fit(X).weights_.positions()
    np.testing.assert_array_equal(before, fixprob_after)
    changed = np.setdiff1d(set_after, before).size
    # zeta = 0.3 of each sign, twice (no evolution after the last epoch): a good share moved.
    assert 0.3 * before.size < changed < before.size


def test_regrown_weights_follow_the_init_distribution():
    X, _ = data()
    model = small(epochs=2, init_std=0.5, lr=1e-6)  # learning barely moves the weights
    model.fit(X)
    before = small(epochs=1, init_std=0.5, lr=1e-6).fit(X).weights_
    new = np.setdiff1d(model.weights_.positions(), before.positions())
    values = model.weights_.data[np.isin(model.weights_.positions(), new)]
    assert values.size > 20 and 0.3 < values.std() < 0.7
    zero = small(epochs=2, init_std=0.5, lr=1e-6, regrow_init="zero").fit(X).weights_
    regrown = zero.data[~np.isin(zero.positions(), before.positions())]
    assert regrown.size > 20 and np.all(np.abs(regrown) < 1e-4)  # zero, then one epoch at lr 1e-6


def test_final_prune_removes_without_regrowing():
    X, _ = data()
    model = small(epochs=2, final_prune=True).fit(X)
    start = round(3.0 * 52)
    assert model.history_["nnz"][0] == start
    assert 0.6 * start < model.nnz_ < 0.8 * start
    assert model.history_["nnz"][-1] == model.nnz_


@pytest.mark.parametrize("params", [{}, {"topology": "dense"}, {"persistent": True, "k": 2},
                                    {"momentum": 0.5, "sample_visible": False}])
def test_same_seed_same_history_and_weights(params):
    X, X_test = data()
    a = small(**params).fit(X, validation_data=X_test)
    b = small(**params).fit(X, validation_data=X_test)
    assert untimed(a.history_) == untimed(b.history_)
    np.testing.assert_array_equal(dense_state(a)[0], dense_state(b)[0])
    c = small(**{**params, "seed": 1}).fit(X, validation_data=X_test)
    assert untimed(c.history_) != untimed(a.history_)


def test_evaluation_does_not_change_the_training_trajectory():
    X, X_test = data()
    a = small().fit(X, validation_data=X_test)
    b = small().fit(X)
    np.testing.assert_array_equal(dense_state(a)[0], dense_state(b)[0])
    assert a.history_["train_reconstruction_error"] == b.history_["train_reconstruction_error"]


def test_history_rows():
    X, X_test = data()
    model = small().fit(X, validation_data=X_test)
    h = model.history_
    assert h["epoch"] == [0, 1, 2, 3] and h.n_epochs == 4
    for key in ("train_reconstruction_error", "test_reconstruction_error"):
        assert all(0 < e < 1 for e in h[key])
    np.testing.assert_allclose(h["free_energy_gap"],
                               np.subtract(h["test_free_energy"], h["train_free_energy"]))
    assert all(t >= 0 for key in TIMING for t in h[key])
    # Training lowers the reconstruction error of these structured data.
    assert h["train_reconstruction_error"][-1] < h["train_reconstruction_error"][0]
    no_test = small(epochs=1).fit(X).history_
    assert np.isnan(no_test["test_reconstruction_error"][0]) and np.isnan(
        no_test["free_energy_gap"][0])


def test_callbacks_see_every_hook_and_can_stop():
    X, _ = data()
    seen = []

    class Recorder(Callback):
        def on_train_begin(self, model):
            seen.append("begin")

        def on_batch_end(self, model, epoch, batch, logs):
            seen.append(("batch", epoch, batch, logs["n_batches"]))
            assert logs["loss"] == logs["reconstruction_error"]

        def before_evolution(self, model, epoch):
            seen.append(("evolve", epoch))

        def on_epoch_end(self, model, epoch, logs):
            seen.append(("end", epoch, logs["nnz"]))
            if epoch == 1:
                model.stop_training_ = True

        def on_train_end(self, model):
            seen.append("done")

    model = small(epochs=5).fit(X, callbacks=[Recorder()])
    assert seen[0] == "begin" and seen[-1] == "done"
    assert sum(1 for s in seen if s[0] == "batch") == 2 * 8
    assert [s for s in seen if s[0] == "end"] == [("end", 0, 156), ("end", 1, 156)]
    assert model.history_.n_epochs == 2


def test_warm_start_continues():
    X, _ = data()
    once = small(epochs=4).fit(X)
    twice = small(epochs=2, warm_start=True).fit(X).fit(X)
    assert twice.epoch_ == 4 and twice.history_["epoch"] == [0, 1, 2, 3]
    # Not bit-identical to one run: the first fit() skips evolution after its last epoch.
    assert twice.nnz_ == once.nnz_


@pytest.mark.parametrize("params", [{}, {"topology": "dense"}, {"persistent": True},
                                    {"topology": "fixprob", "momentum": 0.9}])
def test_save_load_round_trip_is_bit_exact(tmp_path, params):
    X, X_test = data()
    model = small(epochs=2, warm_start=True, **params).fit(X, validation_data=X_test)
    path = model.save(tmp_path / "models" / "rbm.npz")
    loaded = RBM.load(path)
    assert loaded.get_params() == model.get_params()
    for a, b in zip(dense_state(model), dense_state(loaded)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.weights_.weight_velocity, loaded.weights_.weight_velocity)
    assert untimed(loaded.history_) == untimed(model.history_)
    np.testing.assert_array_equal(model.transform(X_test), loaded.transform(X_test))
    # Same generator states: training on continues identically.
    model.fit(X, epochs=2)
    loaded.fit(X, epochs=2)
    np.testing.assert_array_equal(dense_state(model)[0], dense_state(loaded)[0])
    assert untimed(model.history_) == untimed(loaded.history_)
    assert list(path.parent.iterdir()) == [path]  # no temporary left behind


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays.update(changes)
    np.savez(path, **arrays)


def test_load_rejects_damaged_files(tmp_path):
    X, _ = data()
    path = small(epochs=1).fit(X).save(tmp_path / "rbm.npz")
    with np.load(path) as archive:
        indices, meta = archive["indices"].copy(), json.loads(str(archive["meta"]))
    bad = indices.copy()
    bad[0] = 36
    _rewrite(path, indices=bad)
    with pytest.raises(ValueError, match="visible indices must be in \\[0, 36\\)"):
        RBM.load(path)
    bad = indices.copy()
    bad[:2] = bad[0]
    _rewrite(path, indices=bad)
    with pytest.raises(ValueError, match="sorted and distinct"):
        RBM.load(path)
    _rewrite(path, indices=indices, data=np.full(indices.size, np.nan, np.float32))
    with pytest.raises(ValueError, match="'data' must be finite float32"):
        RBM.load(path)
    meta["format"] = "something else"
    _rewrite(path, data=np.zeros(indices.size, np.float32), meta=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError, match="not a setcourse RBM file"):
        RBM.load(path)
    meta.update(format="setcourse.rbm", format_version=2)  # an MLP format, not an RBM one
    _rewrite(path, meta=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError, match="RBM file format_version 2 is not supported"):
        RBM.load(path)
    meta.update(format_version=1, n_features=10 ** 9)  # must not allocate 10^9 units
    _rewrite(path, meta=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError, match="'intercept_visible' has shape \\(36,\\)"):
        RBM.load(path)
    meta.update(n_features=36, params={**meta["params"], "k": 0})
    _rewrite(path, meta=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError, match="bad hyper-parameter: k must be an integer >= 1"):
        RBM.load(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="rbm.npz"):
        RBM.load(path)


@pytest.mark.parametrize("params, message", [
    ({"k": 0}, "k must be an integer >= 1; got 0"),
    ({"k": 1.5}, "k must be an integer >= 1; got 1.5"),
    ({"topology": "rigl"}, "topology must be one of dense, fixprob, set; got 'rigl'"),
    ({"zeta": 1.0}, "zeta must be a number in \\[0, 1\\); got 1.0"),
    ({"epsilon": 0}, "epsilon must be a number in \\(0, inf\\); got 0"),
    ({"lr": -1}, "lr must be a number in \\(0, inf\\)"),
    ({"n_hidden": 0}, "n_hidden must be an integer >= 1"),
    ({"persistent": "yes"}, "persistent must be True or False; got 'yes'"),
    ({"regrow_init": "random"}, "regrow_init must be one of init, zero"),
])
def test_bad_parameters_are_named(params, message):
    X, _ = data()
    with pytest.raises(ValueError, match=message):
        small(**params).fit(X)


def test_bad_data_is_named():
    X, X_test = data()
    out_of_range = X.copy()
    out_of_range[3, 5] = 1.5
    with pytest.raises(ValueError, match="X must have values in \\[0, 1\\].*1.5 at row 3, column 5"):
        small().fit(out_of_range)
    with pytest.raises(ValueError, match="validation_data must have values in \\[0, 1\\]"):
        small().fit(X, validation_data=-X_test - 1)
    with pytest.raises(ValueError, match="validation_data has 35 features, but the model expects 36"):
        small().fit(X, validation_data=X_test[:, 1:])
    model = small(epochs=1).fit(X)
    with pytest.raises(ValueError, match="X has 30 features, but the model expects 36"):
        model.transform(X[:, :30])
    with pytest.raises(ValueError, match="X must be 2-D"):
        model.transform(X[0])
    grey = X.copy()
    grey[2, 4] = 0.25
    model.transform(grey)  # grey levels are fine as data ...
    with pytest.raises(ValueError, match="X must be binary .* 0.25 at row 2, column 4"):
        model.log_likelihood(grey, 0.0)  # ... but not as visible states with a probability
    nan = X.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        model.free_energy(nan)
    with pytest.raises(RuntimeError, match="not fitted"):
        small().transform(X)


def test_sklearn_style_methods():
    X, X_test = data()
    model = small(epochs=2).fit(X)
    hidden = model.transform(X_test)
    assert hidden.shape == (X_test.shape[0], 16) and np.all((hidden > 0) & (hidden < 1))
    v = model.gibbs(X_test)
    assert v.shape == X_test.shape and set(np.unique(v)) <= {0.0, 1.0}
    r = model.reconstruct(X_test)
    assert r.shape == X_test.shape and np.all((r >= 0) & (r <= 1))
    scores = model.score_samples(X_test)
    assert scores.shape == (X_test.shape[0],) and np.all(scores <= 0)
    # Pseudo-likelihood with the flipped unit replayed from the generator.
    rng = np.random.default_rng()
    rng.bit_generator.state = model.sampling_rng_.bit_generator.state
    unit = rng.integers(0, 36, size=X_test.shape[0])
    flipped = X_test.copy()
    flipped[np.arange(X_test.shape[0]), unit] = 1 - flipped[np.arange(X_test.shape[0]), unit]
    gap = model.free_energy(flipped) - model.free_energy(X_test)
    np.testing.assert_allclose(model.score_samples(X_test), -36 * np.logaddexp(0, -gap),
                               rtol=1e-6)
    assert "n_hidden=16" in repr(model) and model.get_params()["k"] == 1
    assert model.set_params(k=3).k == 3
    with pytest.raises(ValueError, match="unknown parameter 'kk'"):
        model.set_params(kk=3)


def test_a_sparse_model_holds_no_dense_array():
    model = RBM(n_hidden=500, epsilon=10).build(1000)
    limit = 1000 * 500 // 10
    arrays = [v for obj in (model, model.weights_) for v in vars(obj).values()
              if isinstance(v, np.ndarray)]
    assert arrays and max(a.size for a in arrays) < limit
    assert model.parameter_bytes() < model.dense_parameter_bytes() / 10


def test_degree_tools_read_the_model():
    from setcourse.analysis.degrees import network_degrees

    X, _ = data()
    model = small(epochs=2).fit(X)
    (degrees,) = network_degrees(model)
    np.testing.assert_array_equal(degrees.degrees("in"), model.hidden_degrees())
    np.testing.assert_array_equal(degrees.degrees("out"), model.visible_degrees())


def test_p_at_least_one_gives_dense_weights_with_a_warning():
    with pytest.warns(UserWarning, match="p = .* >= 1"):
        model = RBM(n_hidden=4, topology="set", epsilon=5).build(6)
    assert not model.weights_.sparse and model.nnz_ == 24


def test_partial_fit_is_one_update_per_call():
    X, _ = data()
    model = small(topology="fixprob", warm_start=True).partial_fit(X[:10])
    assert model.step_ == 1 and model.history_.n_epochs == 0
    before = dense_state(model)[0]
    model.partial_fit(X[10:20])
    assert not np.array_equal(before, dense_state(model)[0]) and model.step_ == 2
    with pytest.raises(ValueError, match="X has 35 features"):
        model.partial_fit(X[:5, 1:])


def test_the_library_callbacks_hang_off_the_rbm():
    from setcourse.analysis.degrees import InitialDegrees
    from setcourse.analysis.input_connectivity import InputConnectivity
    from setcourse.monitor import Monitor

    X, _ = data()
    monitor, initial, inputs = Monitor(interval=0.05), InitialDegrees(), InputConnectivity((6, 6))
    model = small(epochs=3).fit(X, callbacks=[monitor, initial, inputs])
    result = monitor.result()
    assert result.n_parameters == model.nnz_ + 16 and result.dense_n_parameters == 36 * 16 + 16
    assert result.label == "set 36-16"
    (start,) = initial.degrees_
    assert start.degrees("in").sum() == model.nnz_
    assert len(inputs.before_) == 3 and inputs.before_[0].shape == (36,)
    np.testing.assert_array_equal(inputs.after_[-1], model.visible_degrees())
