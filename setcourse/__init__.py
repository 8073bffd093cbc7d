"""setcourse: a course and a truly sparse reference library for sparse training (SET and DST).

``from setcourse import MLP, RBM, load`` gives the estimators and the dataset loader; all are
imported on first use, so ``import setcourse.data`` stays light (no numba compile).
"""
__version__ = "0.1.0"

_EXPORTS = {"MLP": "setcourse.model", "RBM": "setcourse.rbm.model", "load": "setcourse.data.loader"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'setcourse' has no attribute {name!r}")
