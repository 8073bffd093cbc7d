"""Input checks that fail early with a message naming the parameter, the value and the range."""
import math
import sys
import warnings

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
    """``X`` as a float32 2-D array of finite values (with ``n_features`` columns if given).

    Refused with the reason: not 2-D, no feature column, text/complex/date values, NaN or
    inf, and finite values too large for float32 (which would become inf when converted).
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the model expects {n_features}")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {X.shape}); at least one column is needed")
    if X.dtype.kind in "USVcmM":
        raise ValueError(f"{name} must contain real numbers; got dtype {X.dtype}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            converted = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must contain real numbers; converting it to float32 "
                         f"failed: {error}") from None
    if not np.isfinite(converted).all():
        row, col = np.argwhere(~np.isfinite(converted))[0]
        value = X[row, col]
        try:
            finite = math.isfinite(float(value))
        except (TypeError, ValueError, OverflowError):
            finite = False
        if finite:
            raise ValueError(f"{name} contains {float(value):.6g} (first at row {row}, column "
                             f"{col}): too large for float32, whose largest value is "
                             f"{np.finfo(np.float32).max:.4g}; rescale the features")
        raise ValueError(f"{name} contains NaN or inf (first at row {row}, column {col})")
    return converted


def integer_labels(y, name="y"):
    """``y`` as an int64 array, refused with the reason unless every label is an integer.

    Strings (class names), NaN/inf and fractional values each get their own message.
    """
    y = np.asarray(y)
    if y.size == 0 or np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64)
    if y.dtype.kind == "O":  # e.g. a pandas column: look at the values themselves
        try:
            inferred = np.array(y.tolist())
        except (TypeError, ValueError):
            inferred = y
        if inferred.dtype.kind == "O":
            raise ValueError(f"{name} must contain integer class labels; got Python objects "
                             f"such as {y.reshape(-1)[0]!r}")
        return integer_labels(inferred, name)
    flat = y.reshape(-1)
    if y.dtype.kind in "US":
        shown = ", ".join(repr(str(v)) for v in np.unique(flat[:1000])[:3])
        raise ValueError(f"{name} must contain integer class labels 0..n_classes-1; got "
                         f"strings such as {shown}: encode the class names as integers first "
                         f"(e.g. with sklearn.preprocessing.LabelEncoder)")
    if y.dtype.kind != "f":
        raise ValueError(f"{name} must contain integer class labels; got dtype {y.dtype}")
    bad = ~np.isfinite(flat)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} contains {flat[index]} (first at index {index}); labels "
                         f"must be integers 0..n_classes-1")
    fractional = flat != np.floor(flat)
    if fractional.any():
        index = int(np.flatnonzero(fractional)[0])
        raise ValueError(f"{name} must contain integer class labels; got {float(flat[index])!r} "
                         f"at index {index}")
    if np.abs(flat).max() >= 2**62:
        raise ValueError(f"{name} contains {np.abs(flat).max():.6g}: not a class label")
    return y.astype(np.int64)


def check_labels(y, n_samples, n_classes, name="y"):
    """``y`` as int64 labels in ``0..n_classes-1``, one per sample."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size != n_samples:
        raise ValueError(f"{name} must have one label per sample: {n_samples} samples, "
                         f"got {name} of shape {y.shape}")
    y = integer_labels(y, name)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} labels must be in 0..{n_classes - 1}; got values in "
                         f"{y.min()}..{y.max()}")
    return y


def check_validation_data(validation_data):
    """``(X_test, y_test)`` from ``validation_data``, or ValueError saying what it was instead."""
    if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
        return validation_data
    if isinstance(validation_data, (tuple, list)):
        got = f"a {type(validation_data).__name__} of {len(validation_data)} items"
    elif hasattr(validation_data, "shape"):
        got = f"a {type(validation_data).__name__} of shape {validation_data.shape}"
    else:
        got = f"{type(validation_data).__name__} {validation_data!r:.60}"
    raise ValueError(f"validation_data must be a pair (X_test, y_test); got {got}")


# -- arrays from outside (checkpoints): names, shapes, dtypes, finiteness --------------------
def check_state_arrays(arrays, spec, prefix=""):
    """Check that ``arrays`` holds exactly the arrays of ``spec``, with their shapes and dtypes.

    ``spec`` maps a name to ``(shape, dtypes)``; a string in a shape is a length the arrays
    choose (``"nnz"``), which must be the same wherever it appears. Anything with ``shape``
    and ``dtype`` will do (the checkpoint checks headers before reading any data). Raises
    ValueError naming the array (``prefix`` + name); returns the bound lengths.
    """
    missing = [name for name in spec if name not in arrays]
    extra = sorted(name for name in arrays if name not in spec)
    if missing or extra:
        parts = ([f"missing {', '.join(prefix + n for n in missing)}"] if missing else []) + (
            [f"unexpected {', '.join(prefix + n for n in extra)}"] if extra else [])
        raise ValueError(f"{'; '.join(parts)} (expected {', '.join(prefix + n for n in spec)})")
    bound = {}
    for name, (shape, dtypes) in spec.items():
        array = arrays[name]
        if array.dtype not in dtypes:
            expected = " or ".join(np.dtype(d).name for d in dtypes)
            raise ValueError(f"{prefix}{name} has dtype {array.dtype} ({array.dtype.str}); "
                             f"expected {expected} (native byte order)")
        if len(array.shape) != len(shape):
            raise ValueError(f"{prefix}{name} has shape {tuple(array.shape)}; expected "
                             f"{len(shape)} dimension(s) {_shape_text(shape, bound)}")
        for got, want in zip(array.shape, shape):
            if isinstance(want, str):
                want = bound.setdefault(want, got)
            if got != want:
                raise ValueError(f"{prefix}{name} has shape {tuple(array.shape)}; expected "
                                 f"{_shape_text(shape, bound)}")
    return bound


def _shape_text(shape, bound):
    return "(" + ", ".join(str(bound.get(d, d)) if isinstance(d, str) else str(d)
                           for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_finite_arrays(arrays, names, prefix=""):
    """Raise ValueError naming the first of ``arrays[names]`` holding NaN or inf, and where."""
    for name in names:
        array = arrays[name]
        finite = np.isfinite(array)
        if not finite.all():
            where = np.unravel_index(int(np.argmin(finite.reshape(-1))), array.shape)
            raise ValueError(f"{prefix}{name} contains {array[where]} at index "
                             f"{where[0] if len(where) == 1 else tuple(map(int, where))}: "
                             f"every value must be finite")
    return True


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


class Boolean:
    """``True`` or ``False`` (a numpy bool too); not 0/1, strings or None."""

    def check(self, name, value):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False; got {value!r}")


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


def warn_caller(message):
    """A UserWarning pointing at the first caller outside ``setcourse``, at every call (its
    own registry: Python's "once per location" memory would hide it for the next model)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("setcourse"):
        frame = frame.f_back
    warnings.warn_explicit(message, UserWarning, frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"), registry={})
