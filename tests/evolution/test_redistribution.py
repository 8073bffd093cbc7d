"""apportion: one regrowth budget shared by layers, within their capacity."""
import numpy as np
import pytest

from setcourse.evolution.redistribution import apportion


def test_proportional_split_rounds_by_largest_remainder():
    # 4 * (1/3, 2/3) = (1.33, 2.67) -> floors (1, 2), the larger remainder gets the last one.
    assert apportion(4, [3, 6], [100, 100]).tolist() == [1, 3]


def test_exact_sum_and_bounds():
    rng = np.random.default_rng(0)
    for _ in range(200):
        shares = rng.random(5)
        capacity = rng.integers(0, 30, 5)
        total = int(rng.integers(0, 120))
        counts = apportion(total, shares, capacity)
        assert counts.sum() == min(total, capacity.sum())
        assert (counts >= 0).all() and (counts <= capacity).all()


def test_overflow_goes_to_the_layers_with_room():
    # Shares 0.25 / 0.75 of 5: the second layer can take only 3, its 0.75 excess goes to the first.
    assert apportion(5, [0.25, 0.75], [13, 3], overflow_shares=[1, 1]).tolist() == [2, 3]


def test_overflow_spread_evenly_or_by_shares():
    # Ideal (8, 2, 6); layer 0 holds 1, its excess 7 goes to layers 1 and 2:
    # evenly (Sparse Momentum) -> (1, 5.5, 9.5); by shares 1 : 3 (DSR) -> (1, 3.75, 11.25).
    even = apportion(16, [4, 1, 3], [1, 100, 100], overflow_shares=[1, 1, 1])
    by_shares = apportion(16, [4, 1, 3], [1, 100, 100])
    assert even.tolist() == [1, 6, 9]
    assert by_shares.tolist() == [1, 4, 11]


def test_all_zero_shares_mean_equal_shares_and_total_capped_by_capacity():
    assert apportion(6, [0, 0, 0], [10, 10, 10]).tolist() == [2, 2, 2]
    assert apportion(50, [1, 1], [3, 4]).tolist() == [3, 4]


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="shares"):
        apportion(3, [-1, 1], [5, 5])
    with pytest.raises(ValueError, match="capacity"):
        apportion(3, [1, 1], [-1, 5])


# -- held against DSR's reference (IntelAI/dynamic-reparameterization) ----------------------
class DoesNotEnd(RuntimeError):
    pass


def dsr_reference_counts(n_pruned, survivors, room, pick, max_passes=1000):
    """DSR's regrowth split, ported from ``main.py:639-674`` (``--rewire-scaling``) and
    ``SparseTensor.grow_random`` (``parameterized_tensors.py:216-239``): shares from the
    survivors, counts rounded to nearest, the discrepancy to the layer ``pick()`` names
    (``np.random.randint`` there), each layer grows what fits, repeated until all is grown."""
    n_pruned = np.asarray(n_pruned, np.float64)
    survivors = np.asarray(survivors, np.float64)  # mask.sum() after pruning
    room = np.array(room, np.int64)
    fraction = n_pruned / survivors
    adjusted = np.clip(np.ones_like(fraction) * fraction.mean(), 0.0, 1.0)
    grow_backs = adjusted * survivors
    grow_backs /= grow_backs.sum()
    grown = np.zeros(room.size, np.int64)
    n_grown = 0
    for _ in range(max_passes):
        if n_grown >= n_pruned.sum():
            return grown
        weights_to_grow = n_pruned.sum() - n_grown
        counts = np.round(grow_backs * weights_to_grow).astype("int32")
        discrepancy = weights_to_grow - counts.sum()
        if discrepancy != 0:
            index = pick(len(counts))
            counts[index] = max(0, counts[index] + discrepancy)
        for i, count in enumerate(counts):
            add = min(int(count), int(room[i]))  # "no place to grow ..., growing ... instead"
            room[i] -= add
            grown[i] += add
            n_grown += add
    raise DoesNotEnd(f"still {n_pruned.sum() - n_grown} to grow after {max_passes} passes")


def test_ours_equal_dsr_where_its_rounding_needs_no_correction():
    rng = np.random.default_rng(0)
    agreed = 0
    for _ in range(500):
        n_layers = int(rng.integers(2, 6))
        survivors = rng.integers(1, 200, n_layers)
        n_pruned = rng.integers(0, 40, n_layers)
        room = rng.integers(0, 400, n_layers)
        total = int(n_pruned.sum())
        share = survivors / survivors.sum()
        first = np.round(share * total)
        if total == 0 or first.sum() != total or (first > room).any():
            continue  # the reference would correct at random or loop: not comparable
        reference = dsr_reference_counts(n_pruned, survivors, room, pick=None)
        assert apportion(total, survivors, room).tolist() == reference.tolist()
        agreed += 1
    assert agreed > 100
    # By hand: 4 * (1/3, 2/3) = (1.33, 2.67) -> (1, 3) both ways.
    assert dsr_reference_counts([2, 2], [1, 2], [9, 9], pick=None).tolist() == [1, 3]
    assert apportion(4, [1, 2], [9, 9]).tolist() == [1, 3]


def test_dsr_reaches_ours_through_overflow_when_it_ends():
    # Layer 0 has room for 1: DSR grows (1, 5), then (0, 2), (0, 1), then rounds 0.5 and 0.5
    # to 0 and 0 and gives the last one to a random layer until it picks layer 1.
    picks = iter([0, 0, 1])
    reference = dsr_reference_counts([5, 5], [1, 1], [1, 100], pick=lambda n: next(picks))
    assert reference.tolist() == [1, 9] == apportion(10, [1, 1], [1, 100]).tolist()


def test_dsr_loops_forever_on_a_full_layer_ours_does_not():
    # 1 to grow, survivors (3, 1): round(0.75, 0.25) = (1, 0) with no discrepancy, every
    # pass; layer 0 is full, so nothing is ever grown.
    with pytest.raises(DoesNotEnd):
        dsr_reference_counts([1, 0], [3, 1], [0, 10], pick=None)
    assert apportion(1, [3, 1], [0, 10]).tolist() == [0, 1]


def test_dsr_can_grow_more_than_it_pruned_ours_cannot():
    # 5 to grow, shares (0.3, 0.3, 0.3, 0.1): np.round(1.5, 1.5, 1.5, 0.5) = (2, 2, 2, 0),
    # discrepancy -1; given to layer 3 it is clipped at 0: 6 grown for 5 pruned.
    reference = dsr_reference_counts([2, 1, 1, 1], [3, 3, 3, 1], [50] * 4, pick=lambda n: 3)
    assert reference.sum() == 6
    ours = apportion(5, [3, 3, 3, 1], [50] * 4)
    assert ours.tolist() == [2, 2, 1, 0]  # (1.5, 1.5, 1.5, 0.5): ties go to the earlier layer
