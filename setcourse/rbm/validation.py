"""Checks of an RBM's visible data: a 2-D array in [0, 1], binary where probabilities need it."""
import numpy as np

from .._validation import check_features


def _position(mask):
    row, column = np.argwhere(mask)[0]
    return int(row), int(column)


def check_unit_data(X, n_features=None, name="X"):
    """``X`` as float32 ``(n_samples, n_features)`` with every value in [0, 1], else ValueError.

    Values strictly between 0 and 1 are allowed (grey levels read as probabilities, as the
    original SET-RBM trains on COIL20); the message names the first value outside.
    """
    X = check_features(X, n_features, name)
    bad = (X < 0) | (X > 1)
    if bad.any():
        row, column = _position(bad)
        raise ValueError(f"{name} must have values in [0, 1] (binary data or probabilities); got "
                         f"{float(X[row, column])!r} at row {row}, column {column} (values range "
                         f"{float(X.min())!r} .. {float(X.max())!r}; rescale or binarise the data)")
    return X


def check_binary_data(X, n_features=None, name="X"):
    """``X`` as float32 with every value exactly 0 or 1 (for probabilities of visible states)."""
    X = check_unit_data(X, n_features, name)
    bad = (X != 0) & (X != 1)
    if bad.any():
        row, column = _position(bad)
        raise ValueError(f"{name} must be binary (0 or 1) for a probability of visible states; "
                         f"got {float(X[row, column])!r} at row {row}, column {column} (binarise it, "
                         f"e.g. X > 0.5)")
    return X
