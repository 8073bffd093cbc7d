"""Fixtures of the widget tests."""
import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8x8 digits (shipped with scikit-learn: no download)."""
    data = load_digits()
    X = (data.data / 16).astype(np.float32)
    return X[:1200], data.target[:1200], X[1200:], data.target[1200:]
