import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from setcourse import MLP
from setcourse.analysis.nnstd import match_neurons, neuron_distances, nnstd, nnstd_matrix


# -- a direct implementation of the definition (Liu et al. 2020), for tiny networks --------
def jaccard_distance(a, b):
    if not a and not b:
        return 0.0
    return 1.0 - len(a & b) / len(a | b)


def reference_nnstd(masks_a, masks_b):
    """Python sets and brute force over every one-to-one matching, permutation carried forward.

    When several matchings of a layer are optimal the definition does not say which one to
    carry forward, so every optimal branch is followed: the result is the set of all values
    the definition allows (a single value when there are no ties).
    """
    values = set()

    def descend(layer, renamed, distances):
        if layer == len(masks_a):
            values.add(round(float(np.mean(distances)), 12))
            return
        mask_a, mask_b = masks_a[layer], masks_b[layer]
        n_in, n_out = mask_a.shape
        inputs_a = [{i for i in range(n_in) if mask_a[i, j]} for j in range(n_out)]
        # b's neuron j, with its inputs named after the a-neurons they were matched to.
        inverse = list(range(n_in)) if renamed is None else np.argsort(renamed)
        inputs_b = [{int(inverse[i]) for i in range(n_in) if mask_b[i, j]} for j in range(n_out)]
        costs = {perm: sum(jaccard_distance(inputs_a[j], inputs_b[perm[j]]) for j in range(n_out))
                 for perm in itertools.permutations(range(n_out))}
        best = min(costs.values())
        for perm, cost in costs.items():
            if cost <= best + 1e-12:
                descend(layer + 1, np.array(perm), distances + [best / n_out])

    descend(0, None, [])
    return values


def random_masks(rng, sizes, density):
    return [rng.random((a, b)) < density for a, b in zip(sizes[:-1], sizes[1:])]


@pytest.mark.parametrize("seed", range(6))
def test_matches_direct_definition(seed):
    rng = np.random.default_rng(seed)
    sizes = (7, 5, 5, 4)
    a = random_masks(rng, sizes, 0.4)
    b = random_masks(rng, sizes, 0.4)
    allowed = reference_nnstd(a, b)
    got = nnstd([sp.csr_matrix(m.astype(float)) for m in a], [m.astype(float) for m in b])
    assert round(got, 12) in allowed


@pytest.mark.parametrize("seed", range(4))
def test_matches_direct_definition_without_ties(seed):
    # Many inputs per neuron make exact ties between matchings unlikely: one allowed value.
    rng = np.random.default_rng(100 + seed)
    sizes = (60, 6, 6)
    a = random_masks(rng, sizes, 0.5)
    b = random_masks(rng, sizes, 0.5)
    b[1] = rng.random((6, 6)) < 0.5
    allowed = reference_nnstd(a, b)
    assert len(allowed) == 1
    assert nnstd(a, b) == pytest.approx(allowed.pop(), abs=1e-12)


def test_cost_matrix_matches_sets():
    rng = np.random.default_rng(1)
    a, b = rng.random((30, 12)) < 0.2, rng.random((30, 9)) < 0.2
    a[:, 0] = False
    b[:, 0] = False  # both empty: distance 0
    got = neuron_distances(a, b)
    for i in range(12):
        for j in range(9):
            expected = jaccard_distance(set(np.flatnonzero(a[:, i])), set(np.flatnonzero(b[:, j])))
            assert got[i, j] == pytest.approx(expected)
    assert got[0, 0] == 0.0


def test_identity_and_permuted_copy_are_zero():
    rng = np.random.default_rng(2)
    sizes = (10, 8, 6, 3)
    a = random_masks(rng, sizes, 0.5)
    assert nnstd(a, a) == 0.0
    # Rename the hidden neurons: columns of layer l and rows of layer l + 1 together.
    p1, p2 = rng.permutation(8), rng.permutation(6)
    b = [a[0][:, p1], a[1][p1][:, p2], a[2][p2]]
    assert nnstd(a, b) == pytest.approx(0.0)
    assert nnstd(b, a) == pytest.approx(0.0)


def test_disjoint_is_one_and_empty_is_zero():
    a = [np.zeros((6, 4), bool), np.zeros((4, 3), bool)]
    b = [np.zeros((6, 4), bool), np.zeros((4, 3), bool)]
    assert nnstd(a, b) == 0.0  # two empty networks are the same network
    a[0][:3] = True  # a's first layer only uses inputs 0..2, b's only 3..5
    b[0][3:] = True
    a[1][:] = True  # b's second layer is empty: disjoint from every non-empty neuron
    assert nnstd(a, b) == 1.0
    assert nnstd(b, a) == 1.0
    result = nnstd(a, b, return_details=True)
    assert result.layer_distances == [1.0, 1.0]
    assert float(result) == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_symmetric(seed):
    # Symmetric whenever each layer's best matching is unique (ties are unlikely with 80
    # inputs); the first layer's distance is symmetric always.
    rng = np.random.default_rng(10 + seed)
    sizes = (80, 9, 7)
    a, b = random_masks(rng, sizes, 0.3), random_masks(rng, sizes, 0.3)
    assert nnstd(a, b) == pytest.approx(nnstd(b, a), abs=1e-12)
    small_a, small_b = random_masks(rng, (5, 6), 0.4), random_masks(rng, (5, 6), 0.4)
    assert nnstd(small_a, small_b) == pytest.approx(nnstd(small_b, small_a), abs=1e-12)


def test_engine_models():
    X = np.random.default_rng(0).random((20, 16)).astype(np.float32)
    y = np.arange(20) % 3
    one = MLP(hidden=(12, 12), epsilon=2, epochs=1, seed=0).fit(X, y)
    two = MLP(hidden=(12, 12), epsilon=2, epochs=1, seed=1).fit(X, y)
    assert nnstd(one, one) == 0.0
    assert nnstd(one, one.weight_matrices()) == 0.0
    distance = nnstd(one, two)
    assert 0.0 < distance < 1.0
    matrix = nnstd_matrix([one, two, one])
    assert np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    assert matrix[0, 1] == pytest.approx(distance) and matrix[0, 2] == 0.0


def test_match_neurons_pairs_optimally():
    partner, cost = match_neurons(np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert list(partner) == [1, 0] and cost == pytest.approx(0.3)


def test_bad_architectures():
    with pytest.raises(ValueError, match="same, non-zero number of layers"):
        nnstd([np.ones((3, 2))], [np.ones((3, 2)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="same architecture"):
        nnstd([np.ones((3, 2))], [np.ones((3, 4))])
