"""Module 01's exercise: draw an Erdős–Rényi mask with exactly round(p·n_in·n_out) connections.

The course's one rounding rule for counts of connections is *round half up*,
``⌊x + ½⌋`` (:func:`connection_count`; SET's pruning count uses it too). Python's ``round``
rounds half to even (2.5 → 2) and is not used.
"""
import numpy as np

from ..nn.sparsity import erdos_renyi_density
from .runner import Case, Mismatch, as_mask, call_student, run_checker

__all__ = ["check_erdos_renyi_mask", "connection_count"]


def connection_count(density, n_in, n_out):
    """Connections of an Erdős–Rényi layer: ``⌊p·n_in·n_out + ½⌋`` (half up), all if ``p ≥ 1``."""
    total = n_in * n_out
    return total if density >= 1 else min(total, int(np.floor(density * total + 0.5)))


def check_erdos_renyi_mask(fn):
    r"""Check ``fn(n_in, n_out, epsilon, rng)`` → boolean Erdős–Rényi mask of shape (n_in, n_out).

    The mask must have exactly :math:`\lfloor p\, n_{in} n_{out} + \frac12 \rfloor` ones with
    :math:`p = \varepsilon (n_{in} + n_{out}) / (n_{in} n_{out})` (all ones when
    :math:`p \ge 1`), at positions drawn uniformly with ``rng``.
    """
    def count_ok(result, args):
        n_in, n_out, epsilon, _ = args
        p = erdos_renyi_density(epsilon, n_in, n_out)
        expected = connection_count(p, n_in, n_out)
        mask = as_mask(result, (n_in, n_out), "a boolean mask")
        got = int(mask.sum())
        if got == expected:
            return
        if p >= 1:
            raise Mismatch(f"all {expected} connections (p = {p:.3g} ≥ 1: the layer is dense)",
                           f"{got} connections", "when p ≥ 1 every connection exists.")
        hint = (f"p = ε·(n_in + n_out)/(n_in·n_out) = {epsilon}·{n_in + n_out}/{n_in * n_out} = "
                f"{p:.4g}; the layer has exactly ⌊p·n_in·n_out + ½⌋ = {expected} connections "
                "(round half up).")
        if abs(got - expected) == 1:
            hint += (" You are off by one: check the rounding (int() rounds down, Python's "
                     "round() rounds 2.5 to 2; use int(np.floor(x + 0.5))).")
        if abs(got - expected) <= 4 * np.sqrt(expected * (1 - p)) + 1:
            hint += (" Drawing each weight independently with probability p gives a random "
                     "count; choose exactly that many distinct positions instead "
                     "(e.g. rng.choice(n_in * n_out, size=count, replace=False)).")
        raise Mismatch(f"{expected} connections", f"{got} connections", hint)

    def seeded(n_in, n_out, epsilon, seed):
        return n_in, n_out, epsilon, np.random.default_rng(seed)

    def case(name, n_in, n_out, epsilon, seed, verify):
        shown = f"n_in={n_in}, n_out={n_out}, epsilon={epsilon}, rng=np.random.default_rng({seed})"
        return Case(name, seeded(n_in, n_out, epsilon, seed), verify, shown)

    def reproducible(result, args):
        n_in, n_out, epsilon, _ = args
        first = as_mask(result, (n_in, n_out), "a boolean mask")
        again = as_mask(call_student(fn, seeded(n_in, n_out, epsilon, 7)), (n_in, n_out), "a mask")
        if not np.array_equal(first, again):
            raise Mismatch("the same mask for two generators with the same seed",
                           "different masks",
                           "draw all randomness from the `rng` argument (rng.choice, rng.random, "
                           "...), not from np.random or random, so results are reproducible.")

    def random_positions(result, args):
        n_in, n_out, epsilon, _ = args
        masks = [as_mask(result, (n_in, n_out), "a boolean mask")]
        masks += [as_mask(call_student(fn, seeded(n_in, n_out, epsilon, seed)), (n_in, n_out),
                          "a boolean mask") for seed in range(1, 20)]
        if all(np.array_equal(masks[0], m) for m in masks[1:]):
            raise Mismatch("different masks for different seeds", "the same mask every time",
                           "the positions of the connections must be random (drawn with `rng`).")
        # 20 uniform draws of density 1/6 cover 1 - (5/6)**20 ≈ 97% of positions; 90% is safe.
        covered = np.logical_or.reduce(masks).mean()
        if covered < 0.9:
            raise Mismatch("positions spread uniformly over the whole matrix "
                           "(20 seeds together cover about 97% of it)",
                           f"only {covered:.0%} of positions ever used",
                           "every position (i, j) must be equally likely; "
                           "pick linear indices in range(n_in * n_out) and reshape.")

    cases = [
        case("small layer 20×30, ε = 2 (p = 1/6)", 20, 30, 2.0, 0, count_ok),
        case("tall layer 50×8, ε = 1", 50, 8, 1.0, 1, count_ok),
        case("one input neuron 1×40, ε = 0.2", 1, 40, 0.2, 2, count_ok),
        case("dense layer 4×3, ε = 20 (p ≥ 1)", 4, 3, 20.0, 3, count_ok),
        case("p exactly 1: 2×2, ε = 1", 2, 2, 1.0, 4, count_ok),
        case("empty layer: 10×10, ε = 0.01 (round(p·n_in·n_out) = 0)", 10, 10, 0.01, 5, count_ok),
        case("half a connection rounds up: 4×1, ε = 0.5 (p·n_in·n_out = 2.5 → 3)", 4, 1, 0.5, 6,
             count_ok),
        case("same seed gives the same mask", 20, 30, 2.0, 7, reproducible),
        case("positions are uniformly random", 20, 30, 2.0, 0, random_positions),
    ]
    return run_checker("erdos_renyi_mask", fn, cases)
