"""Module 06's exercise: the free energy of an RBM, F(v) = -b·v - Σ_j log(1 + e^(c_j + (vW)_j))."""
import numpy as np
import scipy.sparse as sp

from .runner import Case, Mismatch, run_checker, show

__all__ = ["check_free_energy", "reference_free_energy"]


def reference_free_energy(V, W, b, c):
    """Free energy of each row of ``V`` (n, n_visible) for weights ``W`` (n_visible, n_hidden)."""
    return -(V @ b) - np.logaddexp(0, V @ W + c).sum(axis=1)


def check_free_energy(fn):
    """Check ``fn(V, W, b, c)`` → (n,) free energies (relative tolerance 1e-5, absolute 1e-4)."""
    rng = np.random.default_rng(2018)
    V = (rng.random((6, 5)) < 0.5).astype(np.float64)
    images = (rng.random((8, 784)) < 0.3).astype(np.float64)
    layer = sp.random(784, 100, density=0.05, random_state=rng, format="csr",
                      data_rvs=lambda size: rng.normal(scale=0.1, size=size)).toarray()
    inputs = [
        ("zero weights and biases: F = -n_hidden · log 2", V, np.zeros((5, 3)), np.zeros(5),
         np.zeros(3)),
        ("random weights and biases", V, rng.normal(size=(5, 3)), rng.normal(size=5),
         rng.normal(size=3)),
        ("a single image", V[:1], rng.normal(size=(5, 4)), rng.normal(size=5),
         rng.normal(size=4)),
        ("large hidden inputs (|x| = 1000): no overflow", V, np.zeros((5, 2)), np.zeros(5),
         np.array([1000.0, -1000.0])),
        ("8 binary 28×28 images and a sparse 784×100 layer (5 % of the weights)", images, layer,
         rng.normal(scale=0.1, size=784), rng.normal(scale=0.1, size=100)),
    ]
    cases = [Case(name, tuple(args), _verifier(*args),
                  shown=f"V of shape {args[0].shape}, W of shape {args[1].shape}")
             for name, *args in inputs]
    return run_checker("free_energy", fn, cases)


def _verifier(V, W, b, c):
    expected = reference_free_energy(V, W, b, c)

    def verify(result, args):
        if result is None:
            raise Mismatch(f"an array of shape {expected.shape}", "None",
                           "your function returns nothing: add a `return` statement.")
        got = np.asarray(result, dtype=np.float64)
        if got.shape != expected.shape:
            raise Mismatch(f"shape {expected.shape}", f"shape {got.shape}",
                           "return one value per image (row of V): sum over the hidden units "
                           "only (axis=1).")
        if np.allclose(got, expected, rtol=1e-5, atol=1e-4):
            return
        if not np.isfinite(got).all():
            hint = "np.log(1 + np.exp(x)) overflows for large x; np.logaddexp(0, x) does not."
        elif np.allclose(got, -expected, rtol=1e-5, atol=1e-4):
            hint = ("the sign is flipped: F(v) = -b·v - Σ log(1 + e^(...)), both terms with a "
                    "minus.")
        else:
            hint = ("check each term: -V @ b, and the hidden units' inputs V @ W + c inside "
                    "log(1 + e^x), summed over the hidden units.")
        raise Mismatch(show(expected), show(got), hint)
    return verify
