"""Module 04's algorithm chooser."""
import ipywidgets as widgets
import numpy as np
import pytest

from setcourse import MLP

from setcourse import widgets as W
from widgets.widget_helpers import HIDDEN, PNG


def test_chooser_builds_knobs_from_the_strategy(digits):
    chooser = W.AlgorithmChooser(*digits, hidden=HIDDEN, epochs=1, algorithm="set")
    assert chooser.knob_values() == W.strategy_knobs(W.STRATEGIES["set"])
    assert isinstance(chooser._knob_controls[0], widgets.FloatSlider)  # not a text box
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


def test_update_period_follows_the_data_size_so_dsr_rewires(digits):
    X, y, X_test, y_test = digits
    chooser = W.AlgorithmChooser(X[:600], y[:600], X_test, y_test, hidden=HIDDEN, epochs=2,
                                 algorithm="dsr", batch_size=128)
    assert chooser.knob_values()["update_period"] == 2  # 5 steps per epoch: twice per epoch
    assert "twice per epoch" in chooser.knobs.children[1].value
    chooser.train(background=False)
    start = MLP(hidden=HIDDEN, topology="dsr", epsilon=20, seed=0).build(64, 10)
    trained = chooser.model_
    assert any(not np.array_equal(a.positions(), b.positions())
               for a, b in zip(start.layers_[:-1], trained.layers_[:-1])), "DSR never rewired"


def test_epsilon_is_hidden_for_dst_and_dense_and_dropout_is_used(digits):
    chooser = W.AlgorithmChooser(*digits, hidden=HIDDEN, epochs=1, algorithm="dst")
    assert chooser.epsilon.layout.display == "none"
    chooser.algorithm.value = "rigl"
    assert chooser.epsilon.layout.display is None
    chooser.dropout.value = 0.1
    chooser.train(background=False)
    assert chooser.model_.dropout == 0.1
    assert "1 · rigl" in chooser._current_short


def test_chooser_rejects_unknown_algorithm(digits):
    with pytest.raises(ValueError, match="algorithm must be one of"):
        W.AlgorithmChooser(*digits, algorithm="magic")
