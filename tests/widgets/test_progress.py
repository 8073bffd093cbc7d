"""The notebook progress bars."""
from setcourse import widgets as W
from setcourse import MLP
from widgets.widget_helpers import HIDDEN


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
