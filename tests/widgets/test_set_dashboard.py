"""The SET dashboard and the background trainer under it, driven programmatically: sliders set,
buttons clicked, threads awaited."""
import numpy as np
import pytest

from setcourse import widgets as W
from widgets.widget_helpers import (HIDDEN, PNG, check_consistent, dashboard, expected_nnz,
                                    status_field)


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


def test_dashboard_rejects_an_image_shape_that_does_not_fit(digits):
    with pytest.raises(ValueError, match="image_shape"):
        W.SETDashboard(*digits, image_shape=(28, 28))
