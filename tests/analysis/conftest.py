"""Shared tiny models for the analysis tests (digits data: 64 features, an 8x8 image)."""
import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from setcourse import MLP  # noqa: E402
from setcourse.analysis.input_connectivity import InputConnectivity  # noqa: E402
from setcourse.analysis.over_parameterisation import InTimeOverParameterisation  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return X[:1200], y[:1200], X[1200:], y[1200:]


@pytest.fixture(scope="session")
def trained(digits):
    """A tiny SET model trained 3 epochs, with the input-connectivity and ITOP recorders."""
    X, y, X_test, y_test = digits
    connectivity = InputConnectivity(image_shape=(8, 8))
    itop = InTimeOverParameterisation()
    model = MLP(hidden=(20, 20), epsilon=3, epochs=3, seed=1)
    model.fit(X, y, validation_data=(X_test, y_test), callbacks=[connectivity, itop])
    return model, connectivity, itop
