"""Module 04's algorithm chooser."""
import pytest

from setcourse import widgets as W
from widgets.widget_helpers import HIDDEN, PNG


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
