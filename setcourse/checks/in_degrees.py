"""Module 03's exercise: the in-degree of every output neuron of a sparse layer."""
import numpy as np
import scipy.sparse as sp

from .runner import Case, Mismatch, as_array, run_checker, show

__all__ = ["check_in_degrees", "reference_in_degrees"]


def reference_in_degrees(W):
    """Stored connections per column of ``W`` (n_in, n_out): the in-degree of each output neuron."""
    return np.diff(sp.csc_matrix(W).indptr)


def check_in_degrees(fn):
    """Check ``fn(W)`` → int array (n_out,): incoming connections of each neuron of W (n_in, n_out).

    A connection is a stored entry of the sparse matrix, even when its weight is exactly 0
    (e.g. just regrown with ``regrow_init="zero"``).
    """
    hand_built = np.array([[1.0, 0, 2], [0, 0, 3], [4, 0, 5], [0, 0, -6]])
    with_zero = sp.csr_matrix((np.array([0.5, 0.0, -0.2]), np.array([0, 1, 1]),
                               np.array([0, 1, 2, 3])), shape=(3, 2))
    rng = np.random.default_rng(3)
    big = sp.random(1000, 300, density=0.02, format="csr", random_state=rng,
                    data_rvs=lambda size: rng.standard_normal(size))
    inputs = [
        ("hand-built 4×3 layer in CSR (column 1 has no inputs)", sp.csr_matrix(hand_built)),
        ("the same layer in CSC format", sp.csc_matrix(hand_built)),
        ("the same layer in COO format", sp.coo_matrix(hand_built)),
        ("empty layer 5×7 (no connections)", sp.csr_matrix((5, 7))),
        ("a connection whose weight is exactly 0 still counts", with_zero),
        ("random 1000×300 layer, 2% density", big),
    ]
    cases = [Case(name, (W,), _in_degrees_verifier(W)) for name, W in inputs]
    return run_checker("in_degrees", fn, cases)


def _in_degrees_verifier(W):
    expected = reference_in_degrees(W)

    def verify(result, args):
        shown_expected = show(expected)
        if isinstance(result, np.matrix):
            raise Mismatch(shown_expected, f"an np.matrix of shape {result.shape}",
                           "W.sum(axis=0) returns a 1×n matrix; convert it with "
                           "np.asarray(...).ravel().")
        got = as_array(result, shown_expected)
        if got.shape != expected.shape:
            hint = "return one number per output neuron (per column of W)."
            if got.shape == (W.shape[0],):
                hint = ("you counted per row, i.e. the OUT-degrees of the input neurons; the "
                        "in-degree of output neuron j counts the entries of column j.")
            raise Mismatch(f"shape {expected.shape}", f"shape {got.shape}: {show(got)}", hint)
        if got.dtype.kind not in "iu":
            raise Mismatch(shown_expected, show(got),
                           "in-degrees are counts: return integers (e.g. .astype(int)), not sums "
                           "of weights." if not np.array_equal(got, expected) else
                           "the values are right, but return integers (e.g. .astype(int)).")
        if np.array_equal(got, expected):
            return
        hint = ""
        if np.array_equal(got, np.diff(sp.csc_matrix(W != 0).indptr)):
            hint = ("a connection whose weight is exactly 0 is still a connection (e.g. just "
                    "regrown with regrow_init='zero'): count stored entries (W.getnnz(axis=0)), "
                    "not nonzero values.")
        raise Mismatch(shown_expected, show(got), hint)
    return verify
