"""Module 05's Task 3: the Erdős–Rényi expectation of a layer's in-degree distribution."""
import numpy as np
from scipy import stats

from ..nn.sparsity import erdos_renyi_density
from .runner import Case, Mismatch, as_array, run_checker, show

__all__ = ["check_in_degree_pmf", "reference_in_degree_pmf"]


def reference_in_degree_pmf(n_in, n_out, epsilon, k):
    """P(in-degree = k) of an Erdős–Rényi layer: Binomial(n_in, p), p = min(1, ε(n_in+n_out)/(n_in n_out))."""
    p = min(1.0, erdos_renyi_density(epsilon, n_in, n_out))
    return stats.binom.pmf(np.asarray(k), n_in, p)


def check_in_degree_pmf(fn):
    r"""Check ``fn(n_in, n_out, epsilon, k)`` → array like ``k``: P(in-degree = k) per entry.

    Each of an output neuron's ``n_in`` possible inputs is connected with probability
    :math:`p = \min(1, \varepsilon (n_{in} + n_{out}) / (n_{in} n_{out}))`, so the in-degree is
    binomial :math:`\mathrm{Bin}(n_{in}, p)`. Compared with a relative tolerance of 1e-6.
    """
    inputs = [
        ("small layer 20×30, ε = 2", (20, 30, 2.0, np.arange(21))),
        ("the assignment's first layer 3072×400, ε = 20", (3072, 400, 20.0, np.arange(0, 120))),
        ("the recipe's first layer 3072×4000, ε = 20 (large n_in)",
         (3072, 4000, 20.0, np.arange(0, 100))),
        ("a dense layer 4×3, ε = 20 (p ≥ 1: every neuron has in-degree 4)",
         (4, 3, 20.0, np.arange(6))),
        ("k beyond n_in has probability 0", (5, 50, 1.0, np.array([0, 3, 5, 6, 10]))),
        ("one k as a 0-d array", (100, 10, 3.0, np.array(33))),
    ]
    cases = [Case(name, args, _verify, shown=f"n_in={args[0]}, n_out={args[1]}, "
                  f"epsilon={args[2]}, k={show(args[3])}") for name, args in inputs]
    return run_checker("in_degree_pmf", fn, cases)


def _verify(result, args):
    n_in, n_out, epsilon, k = args
    expected = reference_in_degree_pmf(n_in, n_out, epsilon, k)
    got = as_array(result, f"an array of shape {np.shape(k)}")
    if got.shape != expected.shape:
        raise Mismatch(f"shape {expected.shape} (one probability per k)", f"shape {got.shape}",
                       "return one probability for every entry of k, in the same shape.")
    try:
        got = got.astype(float)
    except (TypeError, ValueError):
        raise Mismatch(show(expected), show(got), "return numbers (probabilities).") from None
    if np.allclose(got, expected, rtol=1e-6, atol=1e-15):
        return
    p_raw = erdos_renyi_density(epsilon, n_in, n_out)
    p = min(1.0, p_raw)
    hint = ""
    if not np.all(np.isfinite(got)):
        hint = ("some values are nan or inf: the binomial coefficient overflows for large n_in; "
                "use scipy.stats.binom.pmf (or work with logarithms, math.lgamma).")
    elif np.allclose(got, stats.poisson.pmf(k, n_in * p), rtol=1e-6, atol=1e-15):
        hint = ("that is the Poisson approximation; the in-degree is exactly binomial, "
                "Bin(n_in, p).")
    elif np.allclose(got, stats.binom.pmf(k, n_out, min(1.0, p)), rtol=1e-6, atol=1e-15):
        hint = ("that is Bin(n_out, p): an output neuron's in-degree counts its inputs, "
                "so n = n_in.")
    elif p_raw >= 1:
        hint = "p = ε(n_in + n_out)/(n_in·n_out) ≥ 1 here: cap it at 1 (the layer is dense)."
    raise Mismatch(show(expected), show(got), hint or
                   f"P(in-degree = k) = C(n_in, k)·p^k·(1 − p)^(n_in − k) with p = {p:.4g}.")
