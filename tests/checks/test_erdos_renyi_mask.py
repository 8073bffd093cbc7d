"""check_erdos_renyi_mask: the right mask passes, typical wrong ones fail with a specific hint."""
import math

import numpy as np
import pytest

from checks.checker_helpers import assert_fails, run
from setcourse.checks import check_erdos_renyi_mask


def n_ones(n_in, n_out, epsilon):
    p = epsilon * (n_in + n_out) / (n_in * n_out)
    return n_in * n_out if p >= 1 else math.floor(p * n_in * n_out + 0.5)  # half up


def mask_right(n_in, n_out, epsilon, rng):
    mask = np.zeros(n_in * n_out, dtype=bool)
    mask[rng.choice(n_in * n_out, size=n_ones(n_in, n_out, epsilon), replace=False)] = True
    return mask.reshape(n_in, n_out)


def mask_bernoulli(n_in, n_out, epsilon, rng):
    return rng.random((n_in, n_out)) < epsilon * (n_in + n_out) / (n_in * n_out)


def mask_never_dense(n_in, n_out, epsilon, rng):
    count = math.floor(epsilon * (n_in + n_out) + 0.5)  # p·n_in·n_out without the cap
    mask = np.zeros(n_in * n_out, dtype=bool)
    mask[rng.choice(n_in * n_out, size=count, replace=False)] = True
    return mask.reshape(n_in, n_out)


def mask_global_random(n_in, n_out, epsilon, rng):
    return mask_right(n_in, n_out, epsilon, np.random.default_rng())


def mask_transposed(n_in, n_out, epsilon, rng):
    return mask_right(n_in, n_out, epsilon, rng).T.copy()


def mask_wrong_formula(n_in, n_out, epsilon, rng):
    p = min(1.0, epsilon / (n_in + n_out))
    mask = np.zeros(n_in * n_out, dtype=bool)
    mask[rng.choice(n_in * n_out, size=round(p * n_in * n_out), replace=False)] = True
    return mask.reshape(n_in, n_out)


def mask_first_positions(n_in, n_out, epsilon, rng):
    mask = np.zeros(n_in * n_out, dtype=bool)
    mask[:n_ones(n_in, n_out, epsilon)] = True
    return mask.reshape(n_in, n_out)


def mask_first_rows_only(n_in, n_out, epsilon, rng):
    """Random, but only ever in the first rows: not uniform over the matrix."""
    count = n_ones(n_in, n_out, epsilon)
    rows = max(1, math.ceil(count / n_out))
    mask = np.zeros(n_in * n_out, dtype=bool)
    mask[rng.choice(rows * n_out, size=count, replace=False)] = True
    return mask.reshape(n_in, n_out)


def mask_weights(n_in, n_out, epsilon, rng):
    return mask_right(n_in, n_out, epsilon, rng) * rng.standard_normal((n_in, n_out))


def test_erdos_renyi_mask_right_answer_passes(capsys):
    result, out = run(check_erdos_renyi_mask, mask_right, capsys)
    assert result is True
    assert out.startswith("✓ erdos_renyi_mask: passed — all 9 test cases")


def test_erdos_renyi_mask_int_zero_one_mask_is_accepted(capsys):
    result, out = run(check_erdos_renyi_mask,
                      lambda *args: mask_right(*args).astype(np.int8), capsys)
    assert result is True, out


def test_erdos_renyi_mask_bernoulli_sampling_fails_with_count_hint(capsys):
    assert_fails(check_erdos_renyi_mask, mask_bernoulli, capsys,
                 "expected: 100 connections", "Drawing each weight independently",
                 "n_in=20, n_out=30, epsilon=2.0")


def test_erdos_renyi_mask_without_dense_case_shows_the_exception(capsys):
    assert_fails(check_erdos_renyi_mask, mask_never_dense, capsys,
                 "case:     dense layer 4×3, ε = 20 (p ≥ 1)", "your function raised ValueError",
                 "of mask_never_dense(): mask[rng.choice")


def test_erdos_renyi_mask_ignoring_rng_fails_reproducibility(capsys):
    assert_fails(check_erdos_renyi_mask, mask_global_random, capsys,
                 "same seed gives the same mask", "draw all randomness from the `rng` argument")


def test_erdos_renyi_mask_transposed_fails_with_shape_hint(capsys):
    assert_fails(check_erdos_renyi_mask, mask_transposed, capsys,
                 "got:      shape (30, 20)", "the shape is transposed")


def test_erdos_renyi_mask_wrong_formula_fails_with_the_formula(capsys):
    assert_fails(check_erdos_renyi_mask, mask_wrong_formula, capsys,
                 "p = ε·(n_in + n_out)/(n_in·n_out) = 2.0·50/600 = 0.1667")


def test_erdos_renyi_mask_fixed_positions_fail_randomness(capsys):
    assert_fails(check_erdos_renyi_mask, mask_first_positions, capsys,
                 "different masks for different seeds", "the same mask every time")


def test_erdos_renyi_mask_non_uniform_positions_fail(capsys):
    assert_fails(check_erdos_renyi_mask, mask_first_rows_only, capsys,
                 "positions are uniformly random", "of positions ever used")


def test_erdos_renyi_mask_returning_weights_fails(capsys):
    assert_fails(check_erdos_renyi_mask, mask_weights, capsys, "return a boolean mask")


def test_erdos_renyi_mask_returning_nothing_fails(capsys):
    assert_fails(check_erdos_renyi_mask, lambda *args: None, capsys, "add a `return` statement")


def mask_python_round(n_in, n_out, epsilon, rng):
    p = epsilon * (n_in + n_out) / (n_in * n_out)
    count = n_in * n_out if p >= 1 else round(p * n_in * n_out)  # half to even: 2.5 -> 2
    mask = np.zeros(n_in * n_out, dtype=bool)
    mask[rng.choice(n_in * n_out, size=count, replace=False)] = True
    return mask.reshape(n_in, n_out)


def test_the_count_rounds_half_up_as_everywhere_in_the_course(capsys):
    out = assert_fails(check_erdos_renyi_mask, mask_python_round, capsys)
    assert "half a connection rounds up" in out and "off by one" in out


def test_the_rounding_rule_is_the_one_of_set_pruning():
    from setcourse.checks.erdos_renyi_mask import connection_count
    from setcourse.evolution.set import n_to_remove
    for total in range(1, 40):
        for share in (0.1, 0.25, 0.5, 0.625, 0.75):
            assert connection_count(share, total, 1) == n_to_remove(share, total)


def test_the_engine_builds_layers_with_the_same_rounding():
    from setcourse.checks.erdos_renyi_mask import connection_count
    from setcourse.nn.sparsity import n_connections
    assert n_connections(0.625, 4, 1) == connection_count(0.625, 4, 1) == 3
