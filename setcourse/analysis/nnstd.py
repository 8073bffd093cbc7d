r"""NNSTD: the Neural Network Sparse Topology Distance (Liu et al., ECML-PKDD 2020).

Two networks of the same architecture are compared layer by layer, from the input upwards:

1. Each neuron is described by the set of neurons feeding it. The distance between neuron
   :math:`a` of the first network and neuron :math:`b` of the second is the Jaccard distance
   :math:`1 - |A \cap B| / |A \cup B|` of their input sets (0 when both are empty, 1 when
   disjoint).
2. Hidden neurons have no identity (any permutation is the same network), so neurons are
   paired one-to-one by the matching of least total distance (the Hungarian algorithm,
   ``scipy.optimize.linear_sum_assignment``); the layer distance is that total divided by
   the layer's width.
3. The matching renames the second network's neurons, so the next layer's input rows of the
   second network are permuted accordingly before that layer is compared.
4. The network distance is the mean of the layer distances: 0 for the same topology (up to
   a renaming of hidden neurons), 1 when no neuron shares a single input.

The cost matrix is computed at once from sparse products: intersections :math:`= A^\top B`
on the 0/1 patterns, unions :math:`= |a| + |b| - ` intersections.

When a layer has several optimal matchings (ties, e.g. between neurons without inputs or in
dense layers) the definition does not say which one renames the next layer; this code takes
the one ``linear_sum_assignment`` returns, so with ties NNSTD(a, b) and NNSTD(b, a) can differ.
"""
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .pattern import connection_pattern, layer_shape, network_layers


def neuron_distances(pattern_a, pattern_b):
    """Jaccard distance between every neuron of ``a`` and every neuron of ``b``.

    Parameters
    ----------
    pattern_a, pattern_b : (n_in, n_out_a) and (n_in, n_out_b) layers or 0/1 matrices
        Column ``j`` holds the inputs of neuron ``j``.

    Returns
    -------
    (n_out_a, n_out_b) float64 array with entries in [0, 1].
    """
    a = connection_pattern(pattern_a)
    b = connection_pattern(pattern_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"both layers need the same number of inputs; got {a.shape[0]} and "
                         f"{b.shape[0]}")
    intersections = (a.T @ b).toarray().astype(np.float64)
    sizes_a = np.asarray(a.sum(axis=0)).ravel().astype(np.float64)
    sizes_b = np.asarray(b.sum(axis=0)).ravel().astype(np.float64)
    unions = sizes_a[:, None] + sizes_b[None, :] - intersections
    distances = np.zeros_like(unions)
    nonempty = unions > 0  # two neurons without inputs are identical: distance 0
    distances[nonempty] = 1.0 - intersections[nonempty] / unions[nonempty]
    return distances


def match_neurons(distances):
    """The one-to-one pairing of least total distance.

    Returns
    -------
    partner : (n,) int array
        ``partner[i]`` is the neuron of the second network matched to neuron ``i`` of the first.
    cost : float
        The total distance of the matching.
    """
    rows, cols = linear_sum_assignment(distances)
    partner = np.empty(distances.shape[0], dtype=np.int64)
    partner[rows] = cols
    return partner, float(distances[rows, cols].sum())


@dataclass
class NNSTDResult:
    """NNSTD of two networks: the mean, each layer's distance and each layer's matching."""

    distance: float
    layer_distances: list
    matchings: list

    def __float__(self):
        return float(self.distance)


def nnstd(network_a, network_b, return_details=False):
    """Neural Network Sparse Topology Distance between two networks of the same architecture.

    Parameters
    ----------
    network_a, network_b : fitted models or lists of layers / (n_in, n_out) matrices
    return_details : bool
        Return an :class:`NNSTDResult` (layer distances and matchings) instead of a float.

    Returns
    -------
    float in [0, 1] (or NNSTDResult)
    """
    layers_a = network_layers(network_a)
    layers_b = network_layers(network_b)
    if len(layers_a) != len(layers_b) or len(layers_a) == 0:
        raise ValueError(f"both networks need the same, non-zero number of layers; got "
                         f"{len(layers_a)} and {len(layers_b)}")
    for index, (la, lb) in enumerate(zip(layers_a, layers_b)):
        if layer_shape(la) != layer_shape(lb):
            raise ValueError(f"layer {index} has shape {layer_shape(la)} in the first network but "
                             f"{layer_shape(lb)} in the second; NNSTD needs the same architecture")
    layer_distances, matchings = [], []
    partner = None
    for la, lb in zip(layers_a, layers_b):
        b = connection_pattern(lb)
        if partner is not None:
            # Input row i of the renamed network b is b's neuron matched to a's neuron i.
            b = b[partner]
        partner, cost = match_neurons(neuron_distances(la, b))
        layer_distances.append(cost / partner.size)
        matchings.append(partner)
    result = NNSTDResult(float(np.mean(layer_distances)), layer_distances, matchings)
    return result if return_details else result.distance


def nnstd_matrix(networks):
    """Symmetric matrix of pairwise NNSTD between ``networks`` (zeros on the diagonal)."""
    networks = list(networks)
    size = len(networks)
    matrix = np.zeros((size, size))
    for i in range(size):
        for j in range(i + 1, size):
            matrix[i, j] = matrix[j, i] = nnstd(networks[i], networks[j])
    return matrix
