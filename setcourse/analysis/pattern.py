"""A layer's connections, whatever it is: engine layer, scipy.sparse matrix or numpy array.

Conventions shared by every topology measure: a layer maps ``n_in`` inputs to ``n_out``
outputs and a matrix describing it has shape ``(n_in, n_out)`` (rows = inputs, as
``layer.to_scipy()`` returns). In a scipy.sparse matrix every *stored* entry is a
connection, even an explicit zero (SET can regrow connections with weight 0); in a numpy
array the non-zero entries are the connections.
"""
import numpy as np
import scipy.sparse as sp


def network_layers(network):
    """The layers of ``network``: a fitted model (``layers_``) or a sequence of layers/matrices."""
    layers = getattr(network, "layers_", None)
    if layers is not None:
        return list(layers)
    if isinstance(network, (list, tuple)):
        return list(network)
    raise ValueError("network must be a fitted model (with layers_) or a list of layers or "
                     f"(n_in, n_out) matrices; got {type(network).__name__}")


def is_engine_layer(layer):
    return hasattr(layer, "n_in") and hasattr(layer, "n_out") and hasattr(layer, "sparse")


def dense_layer_mask(layer):
    """``(n_out, n_in)`` bool mask of a non-sparse engine layer, or None when it is fully connected.

    Masked dense layers (DST's trainable thresholds) expose ``active_mask()``; a plain dense
    layer connects everything.
    """
    active = getattr(layer, "active_mask", None)
    return None if active is None else np.asarray(active(), dtype=bool).T  # active: (n_in, n_out)


def layer_shape(layer):
    """``(n_in, n_out)`` of an engine layer or a matrix."""
    if is_engine_layer(layer):
        return int(layer.n_in), int(layer.n_out)
    if sp.issparse(layer) or isinstance(layer, np.ndarray):
        if layer.ndim != 2:
            raise ValueError(f"a layer matrix must be 2-D (n_in, n_out); got shape {layer.shape}")
        return int(layer.shape[0]), int(layer.shape[1])
    raise ValueError("layer must be an engine layer, a scipy.sparse matrix or a 2-D numpy array "
                     f"of shape (n_in, n_out); got {type(layer).__name__}")


def canonical(matrix):
    """``matrix`` as CSR without duplicate entries (stored zeros are kept: they are connections)."""
    matrix = sp.csr_matrix(matrix)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    return matrix


def connection_pattern(layer):
    """The connections of ``layer`` as a 0/1 int32 CSR matrix of shape ``(n_in, n_out)``.

    Sparse engine layers are read from their index arrays (no dense array); dense layers
    and numpy arrays give a full pattern of the same size as their weights.
    """
    n_in, n_out = layer_shape(layer)
    if is_engine_layer(layer) and layer.sparse and hasattr(layer, "indptr"):
        # The engine stores W^T as CSR (rows = outputs): its transpose is a free CSC view.
        ones = np.ones(layer.indices.size, dtype=np.int32)
        wt = sp.csr_matrix((ones, layer.indices, layer.indptr), shape=(n_out, n_in))
        return wt.T.tocsr()
    if is_engine_layer(layer) and not layer.sparse:
        mask = dense_layer_mask(layer)
        full = np.ones((n_in, n_out), dtype=np.int32) if mask is None else mask.T.astype(np.int32)
        return sp.csr_matrix(full)
    if is_engine_layer(layer):
        matrix = canonical(layer.to_scipy())
    elif sp.issparse(layer):
        matrix = canonical(layer)
    else:
        matrix = sp.csr_matrix(np.asarray(layer) != 0)
    return sp.csr_matrix((np.ones(matrix.nnz, dtype=np.int32), matrix.indices, matrix.indptr),
                         shape=(n_in, n_out))
