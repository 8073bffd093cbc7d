"""Module 02's exercise: SET's sign-aware pruning (the fraction ζ of each sign closest to zero)."""
import numpy as np

from ..evolution.set import n_to_remove, set_prune
from .runner import Case, Mismatch, as_mask, run_checker, show

__all__ = ["check_set_prune"]


def check_set_prune(fn):
    r"""Check ``fn(weights, zeta)`` → boolean keep mask, as SET's ``set_prune`` computes it.

    Among the weights :math:`w \ge 0` the :math:`\lfloor \zeta n_+ + \frac12 \rfloor` smallest
    are removed, among :math:`w < 0` the :math:`\lfloor \zeta n_- + \frac12 \rfloor` closest to
    zero. Any tie-break is accepted.
    """
    rng = np.random.default_rng(2018)
    inputs = [
        ("mixed signs, ζ = 0.3",
         np.array([0.5, -0.1, 0.02, -0.8, 0.3, -0.05, 0.9, -0.4, 0.01, -0.6]), 0.3),
        ("ζ = 0 removes nothing", np.array([0.5, -0.1, 0.02, -0.8, 0.3]), 0.0),
        ("all weights positive, ζ = 0.25",
         np.array([0.3, 0.1, 0.7, 0.05, 0.2, 0.9, 0.4, 0.6]), 0.25),
        ("all weights negative, ζ = 0.5", np.array([-0.3, -0.01, -0.7, -0.2]), 0.5),
        ("empty layer (no weights)", np.zeros(0), 0.3),
        ("a weight exactly 0 counts as positive, ζ = 0.34",
         np.array([0.0, 0.4, -0.3, 0.8, -0.7, 0.2]), 0.34),
        ("round half up: ζ·n₊ = 2.5, ζ = 0.5",
         np.array([0.6, 0.2, 0.9, 0.1, 0.4, -0.5, -0.2]), 0.5),
        ("1000 float32 weights from a normal distribution, ζ = 0.3",
         rng.standard_normal(1000).astype(np.float32), 0.3),
    ]
    cases = [Case(name, (weights, zeta), _set_prune_verifier(weights.copy(), zeta),
                  shown=f"weights = {show(weights)}, zeta = {zeta}")
             for name, weights, zeta in inputs]
    return run_checker("set_prune", fn, cases)


def _set_prune_verifier(original, zeta):
    """A verifier for one set_prune case: exact match with the reference, else a specific hint."""
    def verify(result, args):
        weights = args[0]
        if not np.array_equal(weights, original):
            raise Mismatch("the weights left unchanged", "your function modified the weights array",
                           "sort a copy (np.sort) or use np.argsort instead of weights.sort().")
        keep = as_mask(result, original.shape, "a boolean keep mask")
        expected_keep = set_prune(original, zeta)
        if np.array_equal(keep, expected_keep) or _valid_tie_break(original, zeta, keep):
            return
        raise _explain_set_prune(original, zeta, keep, expected_keep)
    return verify


def _valid_tie_break(weights, zeta, keep):
    """True when ``keep`` differs from the reference only in how equal weights were chosen."""
    removed = ~keep
    for members, closest_first in ((weights >= 0, weights), (weights < 0, -weights)):
        k = n_to_remove(zeta, int(members.sum()))
        if int((removed & members).sum()) != k:
            return False
        gone, kept = closest_first[removed & members], closest_first[keep & members]
        if gone.size and kept.size and gone.max() > kept.min():
            return False
    return True


def _explain_set_prune(weights, zeta, keep, expected_keep):
    """The most specific Mismatch for a wrong keep mask."""
    removed = ~keep
    shown_expected, shown_got = f"keep = {show(expected_keep)}", f"keep = {show(keep)}"
    positive, negative = weights >= 0, weights < 0
    by_magnitude = np.zeros(weights.size, dtype=bool)
    smallest = np.argsort(np.abs(weights), kind="stable")[:n_to_remove(zeta, weights.size)]
    by_magnitude[smallest] = True
    if positive.any() and negative.any() and np.array_equal(removed, by_magnitude):
        return Mismatch(shown_expected, shown_got,
                        "you removed the weights with the smallest |w| overall. SET prunes each "
                        "sign separately: the fraction ζ of the positive weights closest to zero "
                        "AND the fraction ζ of the negative weights closest to zero.")
    for sign, members in (("positive", positive), ("negative", negative)):
        count = int(members.sum())
        k = n_to_remove(zeta, count)
        got_k = int((removed & members).sum())
        label = "weights ≥ 0" if sign == "positive" else "weights < 0"
        if got_k != k:
            group = weights[members]
            closest = np.sort(group)[:k] if sign == "positive" else np.sort(group)[::-1][:k]
            hint = (f"among the {count} {label}, remove ⌊ζ·n + ½⌋ = ⌊{zeta}·{count} + ½⌋ = {k} "
                    "(round half up).")
            if abs(got_k - k) == 1:
                hint += (" You are off by one: check the rounding (int() rounds down, Python's "
                         "round() rounds 2.5 to 2) and the slice bounds.")
            if sign == "positive" and (weights == 0).any():
                hint += " A weight equal to 0 counts as positive (w ≥ 0)."
            which = f"{k} of the {count} {label}: {show(closest)}" if k else \
                f"none of the {count} {label}"
            return Mismatch(f"{shown_expected}, which removes {which}",
                            f"{shown_got}, which removes {got_k} of them", hint)
        kept, gone = weights[keep & members], weights[removed & members]
        if kept.size and gone.size:
            if sign == "positive" and gone.max() > kept.min():
                return Mismatch(shown_expected, shown_got,
                                f"you removed the positive weight {gone.max():.3g} but kept "
                                f"{kept.min():.3g}, which is closer to zero. Among the positive "
                                "weights remove the smallest.")
            if sign == "negative" and gone.min() < kept.max():
                return Mismatch(shown_expected, shown_got,
                                f"you removed the negative weight {gone.min():.3g} but kept "
                                f"{kept.max():.3g}, which is closer to zero. Among the negative "
                                "weights remove the largest (closest to zero), not the most "
                                "negative.")
    return Mismatch(shown_expected, shown_got)
