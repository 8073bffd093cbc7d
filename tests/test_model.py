"""Model-level behaviour: topology sizes, reproducibility, save/load, learning, bad input."""
import warnings

import numpy as np
import pytest

from nn.helpers import tiny_data
from setcourse import MLP
from setcourse.nn.sparsity import n_connections


def test_p_at_least_one_makes_the_layer_dense_and_says_so():
    X, y = tiny_data(n=20, n_features=6, n_classes=3)
    with pytest.warns(UserWarning, match="dense"):
        model = MLP(hidden=(7,), epsilon=50, epochs=1).fit(X, y)
    assert not any(layer.sparse for layer in model.layers_)
    assert n_connections(1.3, 5, 4) == 20


def test_only_hidden_layers_made_dense_are_reported_and_at_every_build():
    X, y = tiny_data(n=20, n_features=60, n_classes=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's own filter: "once per location"
        for _ in range(2):
            MLP(hidden=(100,), epsilon=20, epochs=1).build(60, 3)  # classifier dense: silent
        assert not caught
        for _ in range(2):
            MLP(hidden=(7, 100), epsilon=20, epochs=1).build(60, 3)  # both hidden layers dense
    assert [str(w.message).split(":")[0] for w in caught] == [
        "hidden layer 0 (60 -> 7)", "hidden layer 1 (7 -> 100)"] * 2
    assert all(w.filename == __file__ for w in caught)  # points at the caller
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        MLP(hidden=(7,), topology="dense").build(60, 3)
        MLP(hidden=(7,), topology="dst").build(60, 3)  # dense by nature: nothing to say
    assert not caught


def test_same_seed_same_history_with_dropout():
    X, y = tiny_data(n=150, n_features=20, n_classes=3)
    runs = []
    for _ in range(2):
        model = MLP(hidden=(30, 30), epsilon=4, dropout=0.3, epochs=3, batch_size=16, seed=7)
        model.fit(X, y, validation_data=(X[:50], y[:50]))
        runs.append(model)
    for key in ("train_loss", "test_loss", "test_accuracy", "nnz"):
        assert runs[0].history_[key] == runs[1].history_[key]
    for a, b in zip(runs[0].layers_, runs[1].layers_):
        np.testing.assert_array_equal(a.weight_values(), b.weight_values())
    other = MLP(hidden=(30, 30), epsilon=4, dropout=0.3, epochs=3, batch_size=16, seed=8)
    other.fit(X, y)
    assert other.history_["train_loss"] != runs[0].history_["train_loss"]


def test_sparse_model_learns_digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    model = MLP(hidden=(200, 200), epsilon=10, epochs=10, lr=0.05, batch_size=32, seed=0)
    model.fit(X[:1400], y[:1400])
    assert model.score(X[1400:], y[1400:]) > 0.85


def test_predict_proba_rows_sum_to_one():
    X, y = tiny_data(n=30)
    model = MLP(hidden=(8,), epsilon=2, epochs=1).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
    assert model.predict(X).shape == (30,)


BAD_PARAMS = [
    ("epsilon", 0, r"epsilon must be a number in \(0, inf\); got 0"),
    ("epsilon", -3, "epsilon"),
    ("zeta", 1.0, r"zeta must be a number in \[0, 1\); got 1.0"),
    ("zeta", -0.1, "zeta"),
    ("dropout", 1.0, r"dropout must be a number in \[0, 1\)"),
    ("hidden", (), "hidden must be a non-empty sequence of positive integers"),
    ("hidden", (10, 0), r"hidden .* got \(10, 0\)"),
    ("hidden", (10, -5), "hidden"),
    ("lr", 0, r"lr must be a number in \(0, inf\); got 0"),
    ("lr", float("nan"), "lr"),
    ("momentum", 1.5, "momentum"),
    ("weight_decay", -1, "weight_decay"),
    ("batch_size", 0, "batch_size must be an integer >= 1; got 0"),
    ("epochs", 2.5, "epochs"),
    ("activation", "softplus", "activation must be one of relu, leaky_relu"),
    ("loss", "hinge", "loss must be one of"),
    ("topology", "magic", "topology must be one of dense, fixprob, set"),
    ("init", "xavier", "init must be one of"),
    ("allocation", "erk", "density must be given"),
]


@pytest.mark.parametrize("name, value, message", BAD_PARAMS)
def test_bad_hyper_parameters_are_named(name, value, message):
    X, y = tiny_data(n=20)
    with pytest.raises(ValueError, match=message):
        MLP(**{name: value}).fit(X, y)


def test_bad_arrays_are_named():
    X, y = tiny_data(n=20)
    model = MLP(hidden=(5,), epsilon=2, epochs=1)
    with pytest.raises(ValueError, match="one label per sample: 20 samples"):
        model.fit(X, y[:10])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at row 3, column 2\)"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="labels must be in 0..2; got values in -1"):
        MLP(hidden=(5,), n_classes=3).fit(X, np.r_[y[:-1], -1])
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        MLP(hidden=(5,), n_classes=3).fit(X, np.r_[y[:-1], 3])
    model.fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but the model expects 12"):
        model.predict(X[:, :5])
    with pytest.raises(ValueError, match="2-D"):
        model.predict(X[0])
    with pytest.raises(ValueError, match="X_test has 3 features"):
        MLP(hidden=(5,)).fit(X, y, validation_data=(X[:, :3], y))


def test_a_refit_releases_the_previous_layers_before_making_new_ones(monkeypatch):
    # Otherwise a refit holds two models' weights at once (a 3 x 1000 dense MLP: +28 MB).
    import weakref
    import setcourse.model as model_module

    X, y = tiny_data(n=40)
    model = MLP(hidden=(16, 16), topology="dense", epochs=1).fit(X, y)
    previous = [weakref.ref(layer) for layer in model.layers_]
    made = []

    def dense_layer(*args):
        made.append(all(ref() is None for ref in previous))
        return real(*args)
    real = model_module.dense_layer
    monkeypatch.setattr(model_module, "dense_layer", dense_layer)
    model.fit(X, y)
    assert made == [True, True, True]
