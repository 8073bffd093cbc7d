"""Tiny data, and a parameter server called in this process as the workers call the actor."""
import numpy as np


def tiny_data(n=240, n_features=12, n_classes=3, seed=0):
    """A learnable problem: the class is the largest of three random projections."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_features)).astype(np.float32)
    y = np.argmax(X @ rng.normal(size=(n_features, n_classes)), axis=1)
    return X, y


class Done:
    """What an actor call returns, for a server used in this process."""

    def __init__(self, value):
        self.value = value

    def result(self, timeout=None):
        return self.value


class Direct:
    """A :class:`ParameterServer` called in this process as the workers call the actor."""

    def __init__(self, server):
        self.server = server

    def __getattr__(self, name):
        method = getattr(self.server, name)
        return lambda *args: Done(method(*args))
