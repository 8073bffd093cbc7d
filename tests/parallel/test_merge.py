"""The pure pieces: gradients across a topology change, phase 2's merge, the shards."""
import numpy as np
import pytest

from setcourse.parallel.align import align_gradient
from setcourse.parallel.averaging import average_dense, average_sparse
from setcourse.parallel.shards import shard_indices


def test_align_gradient_against_a_dictionary():
    rng = np.random.default_rng(0)
    for _ in range(50):
        old = np.unique(rng.integers(0, 200, size=rng.integers(0, 60)))
        new = np.unique(rng.integers(0, 200, size=rng.integers(0, 60)))
        grad = rng.normal(size=old.size).astype(np.float32)
        by_position = dict(zip(old.tolist(), grad.tolist()))
        aligned, dropped = align_gradient(old, grad, new)
        expected = [by_position.get(p, 0.0) for p in new.tolist()]
        np.testing.assert_array_equal(aligned, np.array(expected, dtype=np.float32))
        assert dropped == len(set(old.tolist()) - set(new.tolist()))


def test_align_gradient_refuses_a_gradient_of_another_size():
    with pytest.raises(ValueError, match="3 values for 2 positions"):
        align_gradient([1, 2], [0.1, 0.2, 0.3], [1])


def test_average_and_union_prune_a_hand_built_case():
    # Two workers' layers of 3 connections each, 4 positions in their union (binary fractions:
    # every mean is exact, so the tie below is a true tie).
    a = (np.array([0, 2, 5]), np.array([0.75, -0.5, 0.25], np.float32),
         np.array([0.125, 0.25, 0.5], np.float32))
    b = (np.array([2, 5, 7]), np.array([-0.5, 0.5, 0.0625], np.float32),
         np.array([0.5, 0.125, 0.25], np.float32))
    # means (a missing connection counts 0): 0 -> 0.375, 2 -> -0.5, 5 -> 0.375, 7 -> 0.03125
    # back to 3 connections: 7 (the smallest |w|) goes
    positions, values, velocity = average_sparse([a, b], 3)
    np.testing.assert_array_equal(positions, [0, 2, 5])
    np.testing.assert_array_equal(values, [0.375, -0.5, 0.375])
    np.testing.assert_array_equal(velocity, [0.0625, 0.375, 0.3125])
    assert values.dtype == velocity.dtype == np.float32
    # to 2: 0 and 5 tie at |0.375|; drop_smallest's stable order drops the earlier position
    positions, values, _ = average_sparse([a, b], 2)
    np.testing.assert_array_equal(positions, [2, 5])


def test_average_of_one_model_is_the_model():
    a = (np.array([1, 4, 9]), np.array([0.3, -0.1, 0.7], np.float32), np.zeros(3, np.float32))
    positions, values, _ = average_sparse([a], 3)
    np.testing.assert_array_equal(positions, a[0])
    np.testing.assert_array_equal(values, a[1])


def test_average_refuses_a_count_above_the_union():
    a = (np.array([1]), np.ones(1, np.float32), np.zeros(1, np.float32))
    with pytest.raises(ValueError, match=r"count must be in \[0, 1\]"):
        average_sparse([a], 2)
    with pytest.raises(ValueError, match="at least one model"):
        average_sparse([], 0)


def test_average_dense():
    np.testing.assert_allclose(average_dense([np.ones((2, 2)), 3 * np.ones((2, 2))]), 2.0)


def test_shards_cover_the_data_once():
    parts = shard_indices(11, 3, np.random.default_rng(0))
    assert sorted(p.size for p in parts) == [3, 4, 4]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(11))
    assert all((np.diff(p) > 0).all() for p in parts)
    with pytest.raises(ValueError, match="n_workers must be at most"):
        shard_indices(2, 3, np.random.default_rng(0))
