"""The course widgets, driven programmatically: sliders set, buttons clicked, threads awaited."""
import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

from setcourse import widgets as W
from setcourse import MLP
from setcourse.nn.sparsity import erdos_renyi_density, n_connections

HIDDEN = (48, 48)
PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8x8 digits (shipped with scikit-learn: no download)."""
    data = load_digits()
    X = (data.data / 16).astype(np.float32)
    return X[:1200], data.target[:1200], X[1200:], data.target[1200:]


def dashboard(digits, **kwargs):
    kwargs = {"hidden": HIDDEN, "epochs": 2, "epsilon": 10, **kwargs}
    return W.SETDashboard(*digits, image_shape=(8, 8), **kwargs)


def status_field(status, name):
    match = re.search(rf"{name}=([\d-]+)", status)
    assert match, f"no {name}= in status {status!r}"
    return match.group(1)


def expected_nnz(sizes, epsilon):
    """Connections of an Erdős–Rényi MLP computed from the formula, layer by layer."""
    total = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        p = erdos_renyi_density(epsilon, n_in, n_out)
        total += n_in * n_out if p >= 1 else n_connections(p, n_in, n_out)
    return total


def check_consistent(model):
    """Every sparse layer is a valid CSR with a matching transpose index."""
    for layer in model.layers_:
        if not layer.sparse:
            continue
        assert layer.indptr[0] == 0 and layer.indptr[-1] == layer.data.size
        assert np.all(np.diff(layer.indptr) >= 0)
        positions = layer.positions()
        assert np.all(np.diff(positions) > 0), "connections not sorted and distinct"
        assert layer.weight_velocity.shape == layer.data.shape
        np.testing.assert_array_equal(np.bincount(layer.indices, minlength=layer.n_in),
                                      layer.out_degrees())


# -- 01: sparsity table and ε demo --------------------------------------------------------------
@pytest.mark.parametrize("epsilon", [1.0, 5.0, 20.0, 60.0])
def test_sparsity_table_matches_a_built_model(epsilon):
    sizes = (64, 40, 30, 10)
    model = MLP(hidden=sizes[1:-1], epsilon=epsilon, seed=1).build(sizes[0], sizes[-1])
    rows = W.sparsity_table(sizes, epsilon)
    assert [r["connections"] for r in rows] == model.nnz_
    assert sum(r["bytes"] for r in rows) == model.parameter_bytes()
    assert sum(r["dense_bytes"] for r in rows) == model.dense_parameter_bytes()
    for row, layer in zip(rows, model.layers_):
        assert row["sparse"] == layer.sparse


def test_sparsity_table_density_is_the_erdos_renyi_formula():
    (row,) = W.sparsity_table((784, 1000), 20)
    assert row["p"] == pytest.approx(20 * (784 + 1000) / (784 * 1000))
    assert row["connections"] == round(row["p"] * 784 * 1000)


@pytest.mark.parametrize("epsilon", [0, -1, float("nan")])
def test_sparsity_table_rejects_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        W.sparsity_table((10, 10), epsilon)


def test_epsilon_demo_updates_live():
    demo = W.EpsilonDemo(sizes=(784, 300, 10), epsilon=20)
    assert "setcourse-epsilon" in demo.slider._dom_classes
    table, chart = demo.table.value, demo.chart.value
    assert bytes(chart).startswith(PNG)
    demo.slider.value = 3
    assert demo.rows_[0]["connections"] == n_connections(
        erdos_renyi_density(3, 784, 300), 784, 300)
    assert demo.table.value != table and demo.chart.value != chart
    assert f"{demo.rows_[0]['connections']:,}" in demo.table.value


# -- 02: the SET dashboard ----------------------------------------------------------------------
def test_dashboard_carries_the_dom_contract(digits):
    board = dashboard(digits)
    for name in ("epsilon", "zeta", "dropout", "lr", "epochs", "ntrain"):
        control = board.controls[name]
        assert f"setcourse-{name}" in control._dom_classes
        assert control.continuous_update is False
    assert board.train_button.description == "Train"
    assert board.stop_button.description == "Stop"
    for widget, css in ((board.train_button, "train"), (board.stop_button, "stop"),
                        (board.progress, "progress"), (board.status, "status"),
                        (board.curves, "curves"), (board.nnz_image, "nnz"),
                        (board.connectivity, "connectivity")):
        assert f"setcourse-{css}" in widget._dom_classes


def test_dashboard_foreground_run_reports_finished_nnz_and_layers(digits):
    board = dashboard(digits)
    assert board.train(background=False)
    status = board.status.value
    assert "Finished 2 epochs" in status
    model = board.model_
    assert int(status_field(status, "nnz")) == sum(model.nnz_) == expected_nnz(
        (64, *HIDDEN, 10), 10)
    assert status_field(status, "layers") == "64-48-48-10"
    assert board.progress.value == board.progress.max > 1
    for image in (board.curves, board.nnz_image, board.connectivity):
        assert bytes(image.value).startswith(PNG)
    assert not board.train_button.disabled and board.stop_button.disabled


def test_dashboard_click_trains_in_background_with_the_slider_values(digits):
    board = dashboard(digits)
    board.train(background=False)
    curves, connectivity = board.curves.value, board.connectivity.value
    board.controls["epsilon"].value = 4
    board.controls["epochs"].value = 1
    board.controls["ntrain"].value = 600
    board.train_button.click()
    assert board.wait(timeout=120), "training thread did not finish"
    status = board.status.value
    assert "Run 2" in status and "Finished 1 epoch" in status
    assert int(status_field(status, "nnz")) == expected_nnz((64, *HIDDEN, 10), 4)
    assert board.model_.epsilon == 4 and board.model_.history_.n_epochs == 1
    assert board.curves.value != curves and board.connectivity.value != connectivity


def test_second_click_is_refused_and_stop_leaves_the_model_consistent(digits):
    board = dashboard(digits, epochs=200)
    board.train_button.click()
    try:
        assert board.is_training
        board.train_button.click()  # refused politely, the first run goes on
        assert "already training" in board.status.value
        assert board.runs_ == 1
    finally:
        board.stop_button.click()
        assert board.wait(timeout=120)
    status = board.status.value
    assert "Stopped" in status and "Finished" not in status
    model = board.model_
    assert model.history_["stopped"][-1] is True
    assert model.history_.n_epochs < 200
    check_consistent(model)
    assert sum(model.nnz_) == expected_nnz((64, *HIDDEN, 10), 10)  # SET keeps the count
    loss, accuracy = model.evaluate(board.X_test, board.y_test)
    assert np.isfinite(loss) and 0 <= accuracy <= 1


def test_errors_reach_the_status_line(digits, monkeypatch):
    board = dashboard(digits)

    def broken():
        raise ValueError("lr must be a number in (0, inf); got -1")

    monkeypatch.setattr(board, "_make_run", broken)
    board.train_button.click()
    assert board.wait(timeout=30)
    assert "Error: ValueError: lr must be" in board.status.value
    assert not board.train_button.disabled
    with pytest.raises(ValueError, match="lr must be"):
        board.train(background=False)  # in the foreground (nbval) the error is raised


def test_dashboard_rejects_bad_input(digits):
    X, y, X_test, y_test = digits
    with pytest.raises(ValueError, match="X_test has 10 features"):
        W.SETDashboard(X, y, X_test[:, :10], y_test)
    with pytest.raises(ValueError, match="zeta"):
        dashboard(digits, zeta=1.5)
    with pytest.raises(ValueError, match="y_train"):
        W.SETDashboard(X, y[:-1], X_test, y_test)


def test_training_size_slider_gives_nested_subsets(digits):
    board = dashboard(digits, n_train=100)
    slider = board.controls["ntrain"]
    assert slider.max == 1200 and slider.min <= slider.value <= slider.max
    assert board.train(background=False)
    assert board.model_.history_.n_epochs == 2


# -- 03: scrubber -------------------------------------------------------------------------------
def test_scrubber_shows_the_chosen_frame():
    frames = np.arange(3 * 64).reshape(3, 64) % 7
    scrubber = W.EpochScrubber(frames, (8, 8), labels=["start", "epoch 1", "epoch 2"])
    first = scrubber.image.value
    assert bytes(first).startswith(PNG)
    scrubber.slider.value = 2
    assert scrubber.image.value != first
    assert scrubber.player.max == scrubber.slider.max == 2
    scrubber.slider.value = 0
    assert scrubber.image.value == first


def test_scrubber_rejects_bad_frames():
    with pytest.raises(ValueError, match="frames"):
        W.EpochScrubber(np.zeros(5))
    with pytest.raises(ValueError, match="labels"):
        W.EpochScrubber(np.zeros((2, 4)), labels=["a"])


def test_dashboard_rejects_an_image_shape_that_does_not_fit(digits):
    with pytest.raises(ValueError, match="image_shape"):
        W.SETDashboard(*digits, image_shape=(28, 28))


# -- 04: algorithm chooser ----------------------------------------------------------------------
def test_chooser_builds_knobs_from_the_strategy(digits):
    chooser = W.AlgorithmChooser(*digits, hidden=HIDDEN, epochs=1, algorithm="set")
    assert chooser.knob_values() == W.strategy_knobs(W.STRATEGIES["set"])
    assert "zeta" in chooser.knob_values()
    chooser.algorithm.value = "dense"
    assert chooser.knob_values() == {}


def test_chooser_compares_runs(digits):
    chooser = W.AlgorithmChooser(*digits, hidden=HIDDEN, epochs=1, epsilon=5)
    chooser.train(background=False)
    chooser.algorithm.value = "dense"
    chooser.train_button.click()
    assert chooser.wait(timeout=120)
    assert [r["run"].split("(")[0] for r in chooser.results_] == ["set", "dense"]
    assert chooser.results_[1]["nnz"] > chooser.results_[0]["nnz"]
    assert chooser.table.value.count("<tr>") == 3
    assert "Finished 1 epoch" in chooser.status.value
    assert bytes(chooser.curves.value).startswith(PNG)


def test_chooser_rejects_unknown_algorithm(digits):
    with pytest.raises(ValueError, match="algorithm must be one of"):
        W.AlgorithmChooser(*digits, algorithm="magic")


# -- progress ---------------------------------------------------------------------------------
def test_training_progress_reaches_the_end(digits):
    X, y, X_test, y_test = digits
    progress = W.TrainingProgress("SET", epochs=2)
    MLP(hidden=HIDDEN, epochs=2, seed=0).fit(X, y, validation_data=(X_test, y_test),
                                             callbacks=[progress])
    assert progress.bar.value == progress.bar.max > 0
    assert progress.text.value.startswith("epoch 2/2")


def test_progress_counts_the_items():
    seen = list(W.progress(["a", "b", "c"], "runs"))
    assert seen == ["a", "b", "c"]
