"""check_set_prune: right answers pass, typical wrong ones fail with a specific hint."""
import math

import numpy as np

from checks.checker_helpers import assert_fails, run
from setcourse.checks import check_set_prune
from setcourse.checks import set_prune as set_prune_checker
from setcourse.evolution.set import set_prune as reference_set_prune


def n_remove(zeta, count):
    return math.floor(zeta * count + 0.5)


def prune_right(weights, zeta):
    """Written independently of the reference: sort each sign by distance to zero."""
    keep = np.ones(len(weights), dtype=bool)
    positive = [i for i in range(len(weights)) if weights[i] >= 0]
    negative = [i for i in range(len(weights)) if weights[i] < 0]
    positive.sort(key=lambda i: weights[i])
    negative.sort(key=lambda i: -weights[i])
    for group in (positive, negative):
        for i in group[:n_remove(zeta, len(group))]:
            keep[i] = False
    return keep


def prune_by_sign(weights, zeta, n_keep_negative=None, remove=n_remove, zero_is_positive=True):
    """Sign-aware pruning with knobs that reproduce typical mistakes."""
    weights = np.asarray(weights)
    keep = np.ones(weights.size, dtype=bool)
    positive = weights >= 0 if zero_is_positive else weights > 0
    pos = np.flatnonzero(positive)
    neg = np.flatnonzero(~positive)
    keep[pos[np.argsort(weights[pos], kind="stable")[:remove(zeta, pos.size)]]] = False
    by_negativity = neg[np.argsort(weights[neg], kind="stable")]  # most negative first
    if n_keep_negative is None:
        keep[by_negativity[by_negativity.size - remove(zeta, neg.size):]] = False
    else:
        keep[by_negativity[n_keep_negative(neg.size, zeta):]] = False
    return keep


def prune_keeps_half_of_negatives(weights, zeta):
    """Keeps only the ⌈r/2⌉ most negative weights (r = number of negative weights)."""
    return prune_by_sign(weights, zeta, n_keep_negative=lambda r, z: math.ceil(r / 2))


def prune_keeps_k_minus_one_negatives(weights, zeta):
    """Keeps only the k−1 most negative weights, k = how many should stay."""
    return prune_by_sign(weights, zeta,
                         n_keep_negative=lambda r, z: max(r - n_remove(z, r) - 1, 0))


def prune_by_magnitude(weights, zeta):
    """Ignores the sign: removes the ζ·n weights of smallest |w|."""
    keep = np.ones(len(weights), dtype=bool)
    keep[np.argsort(np.abs(weights), kind="stable")[:n_remove(zeta, len(weights))]] = False
    return keep


def prune_off_by_one(weights, zeta):
    """Truncates ζ·n instead of rounding it."""
    return prune_by_sign(weights, zeta, remove=lambda z, n: int(z * n))


def prune_zero_is_negative(weights, zeta):
    return prune_by_sign(weights, zeta, zero_is_positive=False)


def prune_most_negative(weights, zeta):
    """Removes the most negative weights instead of the negatives closest to zero."""
    weights = np.asarray(weights)
    keep = prune_by_sign(weights, 0.0)
    pos, neg = np.flatnonzero(weights >= 0), np.flatnonzero(weights < 0)
    keep[pos[np.argsort(weights[pos])[:n_remove(zeta, pos.size)]]] = False
    keep[neg[np.argsort(weights[neg])[:n_remove(zeta, neg.size)]]] = False
    return keep


def prune_in_place(weights, zeta):
    keep = prune_right(weights, zeta)
    weights.sort()
    return keep


def test_set_prune_reference_and_an_independent_answer_pass(capsys):
    for answer in (reference_set_prune, prune_right):
        result, out = run(check_set_prune, answer, capsys)
        assert result is True, out
        assert out.startswith("✓ set_prune: passed")


def test_set_prune_any_tie_break_is_accepted(capsys):
    def reversed_ties(weights, zeta):
        # Same rule, but among equal weights the LAST ones are removed first.
        order = np.arange(len(weights))[::-1]
        return reference_set_prune(np.asarray(weights)[order], zeta)[order]
    assert run(check_set_prune, reversed_ties, capsys)[0] is True
    tied = np.array([0.1, 0.1, 0.1, -0.2])
    assert set_prune_checker._valid_tie_break(tied, 0.3, np.array([True, False, True, True]))
    assert not set_prune_checker._valid_tie_break(tied, 0.3, np.array([True, True, True, False]))


def test_set_prune_keeping_half_of_the_negatives_fails(capsys):
    assert_fails(check_set_prune, prune_keeps_half_of_negatives, capsys,
                 "case:     ζ = 0 removes nothing", "removes none of the 2 weights < 0",
                 "among the 2 weights < 0, remove ⌊ζ·n + ½⌋ = ⌊0.0·2 + ½⌋ = 0")


def test_set_prune_keeping_k_minus_one_negatives_fails_as_off_by_one(capsys):
    assert_fails(check_set_prune, prune_keeps_k_minus_one_negatives, capsys,
                 "among the 5 weights < 0", "which removes 3 of them", "You are off by one")


def test_set_prune_by_magnitude_without_sign_fails(capsys):
    assert_fails(check_set_prune, prune_by_magnitude, capsys, "SET prunes each sign separately")


def test_set_prune_truncating_fails_as_off_by_one(capsys):
    assert_fails(check_set_prune, prune_off_by_one, capsys,
                 "case:     mixed signs, ζ = 0.3", "⌊0.3·5 + ½⌋ = 2", "You are off by one")


def test_set_prune_pythons_round_fails_on_the_half_way_case(capsys):
    out = assert_fails(check_set_prune, lambda w, z: prune_by_sign(
        w, z, remove=lambda zeta, n: round(zeta * n)), capsys, "round half up: ζ·n₊ = 2.5")
    assert "7 of 8 test cases pass" in out and "round() rounds 2.5 to 2" in out


def test_set_prune_zero_as_negative_fails_with_the_convention(capsys):
    assert_fails(check_set_prune, prune_zero_is_negative, capsys,
                 "a weight exactly 0 counts as positive")


def test_set_prune_removing_the_most_negative_fails(capsys):
    assert_fails(check_set_prune, prune_most_negative, capsys,
                 "you removed the negative weight -0.8 but kept -0.05",
                 "not the most negative")


def test_set_prune_modifying_the_input_fails(capsys):
    assert_fails(check_set_prune, prune_in_place, capsys,
                 "your function modified the weights array")


def test_set_prune_returning_indices_fails(capsys):
    assert_fails(check_set_prune, lambda w, z: np.flatnonzero(reference_set_prune(w, z)), capsys,
                 "a boolean keep mask of shape (10,)")


def test_set_prune_crashing_on_empty_layer_is_shown(capsys):
    def crashes_when_empty(weights, zeta):
        weights[0]  # IndexError on the empty layer
        return reference_set_prune(weights, zeta)
    out = assert_fails(check_set_prune, crashes_when_empty, capsys,
                       "7 of 8 test cases pass", "case:     empty layer (no weights)",
                       "your function raised IndexError")
    assert "at line" in out and "weights[0]" in out
