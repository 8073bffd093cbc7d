"""Model-level behaviour: topology sizes, reproducibility, save/load, learning, bad input."""
import warnings
from pathlib import Path

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
    ("seed", True, r"seed must be an integer >= 0; got True"),
    ("seed", float("nan"), r"seed must be an integer >= 0; got nan"),
    ("seed", "a", r"seed must be an integer >= 0; got 'a'"),
    ("seed", -1, r"seed must be an integer >= 0; got -1"),
    ("seed", 1.0, r"seed must be an integer >= 0; got 1.0"),
    ("warm_start", "no", r"warm_start must be True or False; got 'no'"),
    ("warm_start", 1, r"warm_start must be True or False; got 1"),
    ("topology", [3], r"topology must be a name \(dense, fixprob, set, .*\) or an "
                      r"EvolutionStrategy; got \[3\]"),
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


@pytest.mark.parametrize("X_bad, y_bad, validation_data, message", [
    # strings: a UFuncTypeError before
    (None, np.array(list("abcd") * 5), None,
     r"y must contain integer class labels 0..n_classes-1; got strings such as 'a', 'b', 'c': "
     r"encode the class names as integers first"),
    # no feature column: a ZeroDivisionError before
    ("no columns", None, None, r"X has no features \(shape \(20, 0\)\); at least one column"),
    # NaN labels: "cannot convert float NaN to integer" before
    (None, "nan label", None, r"y contains nan \(first at index 4\); labels must be integers"),
    (None, "half label", None, r"y must contain integer class labels; got 1.5 at index 2"),
    # a malformed validation_data: "too many values to unpack" before
    (None, None, "three", r"validation_data must be a pair \(X_test, y_test\); got a tuple "
                          r"of 3 items"),
    (None, None, "array", r"validation_data must be a pair \(X_test, y_test\); got a ndarray "
                          r"of shape \(20, 12\)"),
    (None, None, "nan test label", r"y_test contains nan \(first at index 0\)"),
    # finite but beyond float32: reported as "NaN or inf" before
    ("1e300", None, None, r"X contains 1e\+300 \(first at row 2, column 1\): too large for "
                          r"float32, whose largest value is 3.403e\+38"),
])
def test_bad_arrays_say_what_is_wrong(X_bad, y_bad, validation_data, message):
    X, y = tiny_data(n=20)
    if X_bad == "no columns":
        X = X[:, :0]
    elif X_bad == "1e300":
        X = X.astype(np.float64)
        X[2, 1] = 1e300
    if isinstance(y_bad, np.ndarray):
        y = y_bad
    elif y_bad == "nan label":
        y = y.astype(np.float64)
        y[4] = np.nan
    elif y_bad == "half label":
        y = y.astype(np.float64)
        y[2] = 1.5
    data = {None: None, "three": (X, y, y), "array": X,
            "nan test label": (X, np.full(20, np.nan))}[validation_data]
    for n_classes in (None, 3):  # inferred from the labels, or given
        with pytest.raises(ValueError, match=message):
            MLP(hidden=(5,), epsilon=2, epochs=1, n_classes=n_classes).fit(
                X, y, validation_data=data)


def test_labels_of_other_integer_like_types_still_train():
    X, y = tiny_data(n=20)
    for labels in (y.astype(np.float64), y.astype(np.uint8), y.astype(object), list(y)):
        model = MLP(hidden=(5,), epsilon=2, epochs=1, seed=3).fit(X, labels)
        assert model.n_classes_ == 3


# -- issue 17 item 6: a layer without connections ------------------------------------------
def test_a_layer_without_connections_is_refused_with_the_numbers():
    # epsilon * (n_in + n_out) = 0.001 * 28 = 0.028 expected connections -> 0: the model
    # trained to chance level (10 % on ten classes) without a word before
    with pytest.raises(ValueError, match=(
            r"layer 0 \(12 -> 16\) would have no connection: epsilon=0.001 gives p = epsilon "
            r"\(n_in \+ n_out\) / \(n_in n_out\) = 0.000146, i.e. 0.028 expected "
            r"connections; epsilon >= 0.0357 gives at least one, epsilon >= 0.571 one per "
            r"output neuron on average .*the output independent of the input")):
        MLP(hidden=(16,), epsilon=0.001).build(12, 10)
    with pytest.raises(ValueError, match=r"layer 1 \(400 -> 300\) would have no connection"), \
            pytest.warns(UserWarning, match=r"layer 0 \(784 -> 400\) has only 1 connection"):
        MLP(hidden=(400, 300), allocation="uniform", density=2e-6).build(784, 10)
    X, y = tiny_data(n=20)
    with pytest.raises(ValueError, match="would have no connection"):
        MLP(hidden=(16,), epsilon=0.001).fit(X, y)
    with pytest.warns(UserWarning, match="has only 1 connection"):  # the smallest suggested
        model = MLP(hidden=(16,), epsilon=0.0357, epochs=1).fit(X, y)
    assert model.nnz_[0] == 1


def test_a_layer_with_fewer_connections_than_neurons_is_warned_about():
    with pytest.warns(UserWarning, match=(
            r"layer 0 \(12 -> 100\) has only 22 connection\(s\) for 100 output neurons, so at "
            r"least 78 of them get no input: epsilon=0.2 .* epsilon >= 0.893 one per output")) as w:
        MLP(hidden=(100,), epsilon=0.2).build(12, 3)
    assert w[0].filename == __file__  # points at the caller
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the usual epsilon: nothing to say
        MLP(hidden=(100, 100), epsilon=20).build(784, 10)
        MLP(hidden=(100,), epsilon=1, topology="dst").build(784, 10)  # DST: dense by nature


# -- issue 17 item 7: models too large for memory ------------------------------------------
def test_a_model_too_large_for_memory_is_refused_with_the_figure_before_allocating():
    # a MemoryError traceback from numpy before ("Unable to allocate 89.4 GiB ...")
    with pytest.raises(ValueError, match=(
            r"this model would need about [\d.]+ TiB of memory, more than the [\d.]+ [KMGT]iB of "
            r"(available memory|SETCOURSE_MAX_MEMORY=.*) \(layer 0 \(784 -> 1000000000\), the "
            r"largest: 2e\+10 connections, about [\d.]+ TiB; activations")):
        MLP(hidden=(10**9,)).build(784, 10)
    with pytest.raises(ValueError, match=r"would need about [\d.]+ PiB .*layer 0 \(784 -> "
                                         r"1000000000000\)"):
        MLP(hidden=10**12, topology="dense").build(784, 10)


def test_widths_beyond_the_int32_index_are_refused(monkeypatch):
    monkeypatch.setenv("SETCOURSE_MAX_MEMORY", "1000T")  # else the activations are too large
    with pytest.raises(ValueError, match=r"layer 0 \(784 -> 3000000000\) has 3000000000 outputs; "
                                         r"at most 2147483647 are supported"), \
            pytest.warns(UserWarning, match="get no input"):
        MLP(hidden=(3 * 10**9,), epsilon=1e-6).build(784, 10)


def test_the_memory_limit_follows_the_setting(monkeypatch):
    monkeypatch.setenv("SETCOURSE_MAX_MEMORY", "20M")
    MLP(hidden=(300, 300)).build(784, 10)  # about 8 MB
    with pytest.raises(ValueError, match=r"would need about [\d.]+ MiB of memory, more than the "
                                         r"20 MiB of SETCOURSE_MAX_MEMORY=20M"):
        MLP(hidden=(3000, 3000)).build(784, 10)
    with pytest.raises(ValueError, match="SETCOURSE_MAX_MEMORY must be a size in bytes"):
        monkeypatch.setenv("SETCOURSE_MAX_MEMORY", "lots")
        MLP(hidden=(30,)).build(784, 10)


@pytest.mark.parametrize("topology", ["set", "sparse_momentum", "dense", "dst"])
def test_the_memory_estimate_is_an_upper_bound_of_what_a_fit_uses(topology):
    # In a fresh process: the peak RSS (VmHWM, reset after the warm-up, which may compile the
    # kernels) grows over build + 2 epochs by at most the estimate.
    import subprocess
    import sys
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")
    code = f"""if True:
        import numpy as np
        from setcourse import MLP
        from setcourse.plan import activation_bytes, plan

        def peak():
            with open("/proc/self/status") as status:
                line = next(l for l in status if l.startswith("VmHWM:"))
            return int(line.split()[1]) * 1024

        X = np.random.default_rng(0).normal(size=(256, 1000)).astype(np.float32)
        y = np.arange(256) % 10
        MLP(hidden=(8,), topology={topology!r}, epochs=2).fit(X, y)  # compile, warm up
        model = MLP(hidden=(3000,), topology={topology!r}, epsilon=300, epochs=2)
        plans = plan(model, 1000, 10)
        estimate = sum(p.bytes for p in plans) + activation_bytes(plans, 128)
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset the peak to the current RSS
        before = peak()
        model.fit(X, y)
        print(peak() - before, estimate)
    """
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    used, estimate = map(int, result.stdout.split())
    assert estimate / 4 < used <= estimate, (used, estimate)
