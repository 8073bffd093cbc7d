"""A run saved at an epoch end and resumed from the file continues exactly: the same weights,
history, generator and strategy state as the run that was never interrupted (every strategy:
the schedule's position, RigL's and DSR's counters, Sparse Momentum's momentum window)."""
import warnings

import numpy as np
import pytest

from setcourse import MLP
from nn.helpers import SaveAtEpochEnd
from setcourse.evolution import DSR, DST, RigL, SET, SparseMomentum

N_EPOCHS = 4


def small_data(n=40, n_features=6, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.7)


TEST = small_data(n=16, seed=5)  # evaluated after every epoch: test_loss in the history


STRATEGIES = {
    # 5 steps per epoch, fewer than the horizon (66): the window runs on across epoch ends
    "sparse_momentum": lambda: SparseMomentum(),
    # a horizon shorter than an epoch: the window opens and closes within every epoch
    # a constant prune rate: only the momentum window differs on a restart
    "sparse_momentum_constant": lambda: SparseMomentum(decay="constant"),
    "sparse_momentum_short_window": lambda: SparseMomentum(momentum_horizon=3, decay="constant"),
    "rigl": lambda: RigL(update_period=2),
    "dsr": lambda: DSR(update_period=2, initial_threshold=0.05),
    "set": lambda: SET(),
    "dst": lambda: DST(alpha=1e-3),
    "fixprob": lambda: "fixprob",
}


def make_model(topology, **params):
    return MLP(hidden=(12, 10), topology=topology, epsilon=2, epochs=N_EPOCHS, batch_size=8,
               dropout=0.2, seed=4, **params)


def fit(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the nearly-dense-layer notices of a tiny network
        return model.fit(X, y, validation_data=TEST, **kwargs)


def assert_same_run(a, b):
    assert a.step_ == b.step_ and a.epoch_ == b.epoch_
    assert a.rng_.bit_generator.state == b.rng_.bit_generator.state
    for i, (la, lb) in enumerate(zip(a.layers_, b.layers_)):
        sa, sb = la.state_arrays(), lb.state_arrays()
        assert sa.keys() == sb.keys()
        for name in sa:
            np.testing.assert_array_equal(sa[name], sb[name], err_msg=f"layer{i}.{name}")
    keys = [k for k in a.history_ if not k.startswith("seconds_")]
    assert sorted(keys) == sorted(k for k in b.history_ if not k.startswith("seconds_"))
    for key in keys:
        np.testing.assert_equal(a.history_[key], b.history_[key], err_msg=key)
    assert a.strategy_.state() == b.strategy_.state()
    arrays_a, arrays_b = a.strategy_.state_arrays(), b.strategy_.state_arrays()
    assert arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_k_epochs_saved_and_resumed_for_the_rest_is_the_uninterrupted_run(tmp_path, name, k):
    X, y = small_data()
    path = tmp_path / "run.npz"
    uninterrupted = fit(make_model(STRATEGIES[name]()), X, y,
                        callbacks=[SaveAtEpochEnd(k - 1, path)])
    resumed = MLP.load(path).set_params(warm_start=True)
    assert resumed.epoch_ == k
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a resumed fit that continues warns about nothing
        resumed.fit(X, y, validation_data=TEST, epochs=N_EPOCHS - k)
    assert_same_run(uninterrupted, resumed)


def test_the_momentum_window_is_in_the_file_while_it_runs(tmp_path):
    X, y = small_data()
    path = tmp_path / "run.npz"
    model = fit(make_model(SparseMomentum()), X, y, callbacks=[SaveAtEpochEnd(1, path)])
    with np.load(path) as archive:
        names = sorted(key for key in archive if key.startswith("strategy."))
        # one dense (n_out, n_in) float32 buffer per sparse layer (the classifier too, here)
        assert [layer.sparse for layer in model.layers_] == [True, True, True]
        assert names == ["strategy.momentum0", "strategy.momentum1", "strategy.momentum2"]
        for name, shape in zip(names, [(12, 6), (10, 12), (3, 10)]):
            assert archive[name].shape == shape and archive[name].dtype == np.float32
            assert np.abs(archive[name]).sum() > 0
    # the finished fit has no window open (the last epoch never rewires): nothing saved
    with np.load(model.save(tmp_path / "done.npz")) as archive:
        assert not [key for key in archive if key.startswith("strategy.")]


def test_a_resumed_fit_of_other_epochs_starts_afresh_and_says_so(tmp_path):
    X, y = small_data()
    path = tmp_path / "run.npz"
    fit(make_model(SparseMomentum()), X, y, callbacks=[SaveAtEpochEnd(1, path)])
    model = MLP.load(path).set_params(warm_start=True)
    with pytest.warns(UserWarning, match=r"saved 2 of the 4 epochs of a fit; this fit of 1 "
                                         r"epoch\(s\) starts afresh, restarting its prune-rate "
                                         r"schedule and its momentum window.*"
                                         r"epochs=2"):
        fit_quietly_but_this(model, X, y, epochs=1)
    assert model.strategy_.first_step_ == 10 and model.strategy_.epochs_ == 1


def fit_quietly_but_this(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(dense|connections).*")
        warnings.filterwarnings("always", message=".*starts afresh.*")
        return model.fit(X, y, validation_data=TEST, **kwargs)


def test_a_finished_fit_resumes_as_a_new_fit_without_a_warning(tmp_path):
    X, y = small_data()
    model = fit(make_model(RigL(update_period=2)), X, y)
    loaded = MLP.load(model.save(tmp_path / "done.npz")).set_params(warm_start=True)
    model.set_params(warm_start=True)
    fit(model, X, y, epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded.fit(X, y, validation_data=TEST, epochs=2)
    assert_same_run(model, loaded)
