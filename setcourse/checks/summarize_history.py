"""Module 05's Task 2: the numbers of one training run that the comparison table needs."""
import numpy as np

from .runner import Case, Mismatch, run_checker, show

__all__ = ["check_summarize_history", "reference_summarize_history", "reference_summary"]

KEYS = ("final_test_accuracy", "best_test_accuracy", "best_epoch", "median_seconds_per_epoch")


def reference_summary(history):
    """The four numbers of a run: last and best test accuracy, best epoch (from 1), median s/epoch."""
    accuracy = np.asarray(history["test_accuracy"], dtype=float)
    return {"final_test_accuracy": float(accuracy[-1]),
            "best_test_accuracy": float(accuracy.max()),
            "best_epoch": int(np.argmax(accuracy)) + 1,
            "median_seconds_per_epoch": float(np.median(history["seconds_epoch"]))}


reference_summarize_history = reference_summary


def check_summarize_history(fn):
    """Check ``fn(history)`` → dict with the keys of :data:`KEYS` (see :func:`reference_summary`).

    ``history`` is a model's ``history_``: a dict of per-epoch lists (``test_accuracy``,
    ``seconds_epoch``, ...). Epochs count from 1; the first best epoch wins a tie; the median
    (not the mean) of the epoch times, since the first epoch includes numba's compilation.
    """
    def history(accuracy, seconds):
        n = len(accuracy)
        return {"epoch": list(range(n)), "test_accuracy": list(accuracy),
                "train_accuracy": [a - 0.05 for a in accuracy],
                "test_loss": [1.0 - a for a in accuracy], "seconds_epoch": list(seconds)}

    inputs = [
        ("three epochs, the best in the middle", history([0.5, 0.7, 0.6], [3.0, 1.0, 1.2])),
        ("a tie: the first best epoch", history([0.8, 0.8, 0.7], [1.0, 1.0, 1.0])),
        ("one epoch", history([0.42], [7.5])),
        ("four epochs: the median of an even count", history([0.1, 0.2, 0.3, 0.4],
                                                             [5.0, 1.0, 2.0, 3.0])),
        ("the first epoch compiles: slow", history([0.3, 0.5, 0.55, 0.6, 0.61],
                                                   [40.0, 2.0, 2.1, 1.9, 2.0])),
    ]
    cases = [Case(name, (h,), _verify, shown=f"history with test_accuracy = "
                  f"{h['test_accuracy']}, seconds_epoch = {h['seconds_epoch']}")
             for name, h in inputs]
    return run_checker("summarize_history", fn, cases)


def _verify(result, args):
    (history,) = args
    expected = reference_summary(history)
    if not isinstance(result, dict):
        raise Mismatch(f"a dict {expected}", show(result),
                       "return a dict with the keys " + ", ".join(KEYS) + ".")
    missing = [key for key in KEYS if key not in result]
    if missing:
        raise Mismatch(f"the keys {', '.join(KEYS)}", f"the keys {', '.join(map(str, result))}",
                       "missing: " + ", ".join(missing) + ".")
    for key in KEYS:
        got = result[key]
        try:
            ok = np.isclose(float(got), expected[key], rtol=1e-9, atol=1e-12)
        except (TypeError, ValueError):
            ok = False
        if ok:
            continue
        seconds = np.asarray(history["seconds_epoch"], dtype=float)
        accuracy = np.asarray(history["test_accuracy"], dtype=float)
        hint = ""
        if key == "best_epoch" and got == expected[key] - 1:
            hint = "epochs count from 1 here (history['epoch'] counts from 0)."
        elif key == "best_epoch" and got == len(accuracy) - int(np.argmax(accuracy[::-1])):
            hint = "on a tie, the first epoch that reached the best accuracy."
        elif key == "median_seconds_per_epoch" and np.isclose(float(got), seconds.mean()):
            hint = ("that is the mean; use the median (np.median): the first epoch includes "
                    "numba's compile time and would dominate a mean.")
        elif key == "final_test_accuracy":
            hint = "the final accuracy is the last epoch's (history['test_accuracy'][-1])."
        raise Mismatch(f"{key} = {expected[key]!r}", f"{key} = {show(got)}", hint)
