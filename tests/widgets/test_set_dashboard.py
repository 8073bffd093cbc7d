"""The SET dashboard and the background trainer under it, driven programmatically: sliders set,
buttons clicked, threads awaited."""
import re
import time

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
                        (board.curves, "curves"), (board.degrees, "degrees"),
                        (board.connectivity, "connectivity"), (board.rewiring, "rewiring"),
                        (board.clear_button, "clear"), (board.gif_button, "gif"),
                        (board.feature_text, "feature-selection"),
                        (board.frame_slider, "frame")):
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
    for image in (board.curves, board.degrees, board.connectivity, board.rewiring):
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


def test_dashboard_keeps_earlier_runs_and_clears_them(digits):
    board = dashboard(digits)
    board.train(background=False)
    board.controls["zeta"].value = 0.0
    board.controls["dropout"].value = 0.1
    board.train(background=False)
    labels = [label for label, _ in board.past_runs_]
    assert labels == ["run 1: ε 10, ζ 0.30, dropout 0.30", "run 2: ε 10, ζ 0.00, dropout 0.10"]
    assert [len(values) for _, values in board.past_runs_] == [2, 2]
    assert board._curves_panel._signature == tuple(labels)  # both on the plot
    before = board.curves.value
    board.clear_button.click()
    assert board.past_runs_ == [] and board.curves.value != before


def test_connectivity_frames_are_kept_on_one_scale_and_scrubbed(digits, tmp_path):
    board = dashboard(digits, epochs=3, gif_dir=tmp_path)
    board.train(background=False)
    assert len(board.frames_) == 4  # initial state and one frame per epoch
    assert not np.array_equal(board.frames_[0], board.frames_[1])  # SET rewired the inputs
    vmax = board._run_state["vmax"]
    assert vmax >= max(frame.max() for frame in board.frames_) * 0.5
    assert not board.frame_slider.disabled and board.frame_slider.max == 3
    last = board.connectivity.value
    board.frame_slider.value = 0
    assert board.connectivity.value != last
    assert "at initialisation" in board.feature_text.value
    assert "r = " in board.feature_text.value
    path = board.save_gif()
    assert path.exists() and path.read_bytes()[:3] == b"GIF"


def test_feature_selection_number_matches_the_analysis(digits):
    from setcourse.analysis.feature_selection import feature_selection, feature_variance
    board = dashboard(digits, n_train=600)
    board.train(background=False)
    X = board.X_train[board._order[:600]]
    expected = feature_selection(board.frames_[-1], feature_variance(X))
    assert board.feature_selection_[-1] == expected


@pytest.mark.parametrize("regrow_init", ["init", "zero"])
def test_rewiring_view_shows_a_set_step(digits, regrow_init):
    # Zero-initialised regrowth: the added connections have weight 0 and still count.
    board = dashboard(digits, epochs=2, regrow_init=regrow_init)
    board.train(background=False)
    recorder = board._rewiring
    assert recorder.epoch_ == 0 and recorder.steps_ == 1  # one step: after epoch 1 of 2
    assert (recorder.before_ & ~recorder.after_).any() and (~recorder.before_ & recorder.after_).any()


def test_zeta_note_warns_for_one_epoch(digits):
    board = dashboard(digits)
    assert "Warning" not in board.zeta_note.value
    board.controls["epochs"].value = 1
    assert "Warning" in board.zeta_note.value and "no effect" in board.zeta_note.value


def test_status_reports_training_time_apart_from_drawing(digits):
    board = dashboard(digits)
    board.train(background=False)
    status = board.status.value
    seconds = float(re.search(r"training ([\d.]+) s/epoch", status).group(1))
    assert seconds == pytest.approx(np.mean(board.model_.history_["seconds_epoch"]), abs=0.006)
    assert "drawing" in status
    assert "background" in board.background_note.value


def test_stopping_message_is_not_overwritten(digits):
    board = dashboard(digits, epochs=200)
    board.train_button.click()
    try:
        deadline = time.monotonic() + 60
        while len(board.frames_) < 2 and time.monotonic() < deadline:  # an epoch has ended
            time.sleep(0.01)
        board.stop_button.click()
        assert "stopping…" in board.status.value
        for _ in range(50):  # the next epoch's start must not replace it
            if not board.is_training:
                break
            assert "stopping…" in board.status.value
            time.sleep(0.01)
    finally:
        assert board.wait(timeout=60)
    assert "Stopped by you" in board.status.value


def test_class_settings_are_valid_model_parameters_and_name_the_decay_rule():
    from setcourse import MLP
    settings = W.CLASS_SETTINGS
    MLP(**settings).validate_params()
    assert settings["weight_decay"] == 0.01 and settings["regrow_init"] == "zero"
    import inspect
    if "weight_decay_mode" in inspect.signature(MLP.__init__).parameters:
        assert settings["weight_decay_mode"] == "l2"  # the rule the measurements used


def children_of(widget):
    """Every widget inside ``widget`` (depth first)."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(children_of(child))
    return found


def test_a_subset_of_views_is_shown_and_drawn_the_rest_never(digits):
    board = dashboard(digits, views=("degrees", "connectivity"))
    untouched = bytes(board.curves.value), bytes(board.rewiring.value)
    board.train(background=False)
    shown = children_of(board.widget)
    assert board.degrees in shown and board.connectivity in shown and board.hubs_text in shown
    assert board.curves not in shown and board.rewiring not in shown
    assert (bytes(board.curves.value), bytes(board.rewiring.value)) == untouched == (b"", b"")
    assert bytes(board.degrees.value).startswith(PNG)
    assert len(board.frames_) == 3  # the frames and r are kept whatever is shown
    with pytest.raises(ValueError, match="subset"):
        dashboard(digits, views=("degrees", "network"))
    with pytest.raises(ValueError, match="non-empty"):
        dashboard(digits, views=())


def test_hub_counts_follow_the_binomial_quantile():
    from scipy import stats
    n, p = 784, 0.05
    threshold = int(stats.binom.ppf(0.999, n, p))
    degrees = np.r_[np.full(995, int(n * p)), np.full(5, threshold + 10)]
    assert W.set_dashboard.hub_counts(degrees, n, p) == (5, threshold, threshold + 10)
    rng = np.random.default_rng(0)
    chance = [W.set_dashboard.hub_counts(rng.binomial(n, p, 1000), n, p)[0] for _ in range(200)]
    assert 0.5 < np.mean(chance) < 1.5  # about 1 in 1,000 by chance


def test_hubs_are_reported_per_layer_after_each_epoch(digits):
    board = dashboard(digits)
    board.train(background=False)
    text = board.hubs_text.value
    assert "Hubs</b> after epoch 2" in text and "99.9 % quantile" in text
    assert text.count(" of ") == len(HIDDEN) + 2  # every hidden layer, the pixels, the sparse inputs
    model = board.model_
    from setcourse.analysis.degrees import in_degrees
    largest = int(in_degrees(model.layers_[0]).max())
    assert f"(max {largest})" in text


def test_class_dashboard_uses_the_class_settings_at_the_modes_size(digits):
    X, y, X_test, y_test = digits
    dataset = type("Data", (), {"__iter__": lambda self: iter((X, y, X_test, y_test)),
                                "image_shape": (8, 8)})()
    fast = W.set_dashboard.class_dashboard(dataset, True, views=("degrees",), epochs=1)
    assert fast.hidden == (256, 256) and fast.controls["epochs"].value == 1
    assert fast.controls["ntrain"].value == len(X) and fast.views == ("degrees",)
    assert {k: fast.model_options[k] for k in fast.model_options} == {
        k: v for k, v in W.CLASS_SETTINGS.items() if k not in ("lr", "batch_size")}
    assert fast.controls["lr"].value == pytest.approx(W.CLASS_SETTINGS["lr"])
    assert fast.batch_size == W.CLASS_SETTINGS["batch_size"]
    full = W.set_dashboard.class_dashboard(dataset, False)
    assert full.hidden == (1000, 1000, 1000) and full.controls["epochs"].value == 4
    assert full.views == W.set_dashboard.VIEWS


def test_the_first_look_comes_once_part_way_through_epoch_1_and_says_so(digits, monkeypatch):
    monkeypatch.setattr(W.set_dashboard, "FIRST_LOOK_SECONDS", 0.0)  # after the first batch
    board = dashboard(digits, batch_size=32)
    statuses, titles = [], []
    board.status.observe(lambda change: statuses.append(change["new"]), names="value")
    render = board._render_first_look
    board._render_first_look = lambda look: titles.append(look) or render(look)
    board.train(background=False)
    looks = [text for text in statuses if "first look" in text]
    assert len(looks) == 1 and "Training epoch 1/2" in looks[0]
    assert f"after 32 of {len(digits[0]):,} images" in looks[0]
    n_test = len(digits[2])
    assert f"on {n_test:,} test images" in looks[0]
    look = board.first_look_
    assert look["seen"] == 32 and look["n_test"] == n_test and 0 <= look["accuracy"] <= 1
    assert len(titles) <= 1  # drawn once (or overtaken by epoch 1's redraw)
    assert "Finished 2 epochs" in board.status.value


def test_no_first_look_when_the_epoch_is_quicker_than_its_delay(digits, monkeypatch):
    monkeypatch.setattr(W.set_dashboard, "FIRST_LOOK_SECONDS", 3600.0)
    board = dashboard(digits)
    board.train(background=False)
    assert board.first_look_ is None
