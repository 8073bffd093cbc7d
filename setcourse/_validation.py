"""Input checks that fail early with a message naming the parameter, the value and the range."""
import math

import numpy as np


def check_in_range(name, value, low=None, high=None, low_open=False, high_open=False):
    """Raise ValueError unless ``value`` is a finite number in the given interval."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low}"
        hi = "inf)" if high is None else f"{high}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be a number in {lo}, {hi}; got {value!r}")


def check_positive_int(name, value, minimum=1):
    """Raise ValueError unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")


def check_choice(name, value, allowed):
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def check_features(X, n_features=None, name="X"):
    """``X`` as a float32 2-D array of finite values (with ``n_features`` columns if given)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the model expects {n_features}")
    X = np.asarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]})")
    return X


def check_labels(y, n_samples, n_classes, name="y"):
    """``y`` as int64 labels in ``0..n_classes-1``, one per sample."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size != n_samples:
        raise ValueError(f"{name} must have one label per sample: {n_samples} samples, "
                         f"got {name} of shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.number) or not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"{name} must contain integer class labels; got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} labels must be in 0..{n_classes - 1}; got values in "
                         f"{y.min()}..{y.max()}")
    return y


# -- declarative parameter tables (scikit-learn's ``_parameter_constraints`` style) ----------
class Interval:
    """A finite number in ``[low, high]``; ``low_open`` / ``high_open`` exclude an end."""

    def __init__(self, low=None, high=None, low_open=False, high_open=False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def check(self, name, value):
        check_in_range(name, value, self.low, self.high, self.low_open, self.high_open)


class Integer:
    """An integer ``>= minimum``."""

    def __init__(self, minimum=1):
        self.minimum = minimum

    def check(self, name, value):
        check_positive_int(name, value, self.minimum)


class Choice:
    """One of ``allowed``."""

    def __init__(self, *allowed):
        self.allowed = allowed

    def check(self, name, value):
        check_choice(name, value, self.allowed)


class Optional:
    """``None``, or a value that ``rule`` accepts."""

    def __init__(self, rule):
        self.rule = rule

    def check(self, name, value):
        if value is not None:
            self.rule.check(name, value)


def check_params(values, rules):
    """Check ``values[name]`` against ``rules[name]`` for every name of the table ``rules``.

    Raises ValueError naming the first bad parameter, its value and what is allowed.
    """
    for name, rule in rules.items():
        rule.check(name, values[name])
