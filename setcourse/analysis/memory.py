r"""Parameter memory of an Erdős–Rényi MLP before it is built: the ε demo's calculator.

The byte counts follow what the engine stores (see ``parameter_bytes`` of
:class:`~setcourse.nn.layers.SparseLayer` and :class:`~setcourse.nn.layers.DenseLayer`);
``tests/widgets/test_epsilon_demo.py`` checks them against built models. They are computed
here from a shape and a connection count because the engine offers no function of a shape
(building a layer just to count its bytes would make the slider slow).
"""
from .._validation import check_in_range
from ..nn.sparsity import erdos_renyi_density, n_connections

FLOAT_BYTES = 4        # float32 weights and biases
INDEX_BYTES = 4        # int32 column index per connection
INDPTR_LIMIT = 2**31   # from this many connections the row pointers are int64


def dense_layer_bytes(n_in, n_out):
    """Bytes of a fully connected float32 layer: weights and biases."""
    return FLOAT_BYTES * (n_in * n_out + n_out)


def sparse_layer_bytes(n_out, connections):
    """Bytes of a CSR layer: values and indices per connection, row pointers, biases."""
    indptr = 4 if connections < INDPTR_LIMIT else 8
    return (FLOAT_BYTES + INDEX_BYTES) * connections + indptr * (n_out + 1) + FLOAT_BYTES * n_out


def sparsity_table(sizes, epsilon):
    r"""Per layer of an Erdős–Rényi MLP: probability, connections and bytes, sparse vs dense.

    A layer with :math:`p = \varepsilon (n_{in} + n_{out}) / (n_{in} n_{out}) \ge 1` is dense.
    Sparse bytes count what :class:`~setcourse.nn.layers.SparseLayer` stores: float32 values
    and int32 column indices per connection, int32 row pointers and the float32 bias.

    Parameters
    ----------
    sizes : sequence of int, e.g. ``(784, 1000, 1000, 1000, 10)``
    epsilon : float > 0

    Returns
    -------
    list of dict with keys ``n_in, n_out, p, sparse, connections, dense_connections, bytes,
    dense_bytes``, one per layer.
    """
    check_in_range("epsilon", epsilon, 0, None, low_open=True)
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least 2 positive layer sizes; got {sizes!r}")
    rows = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        p = erdos_renyi_density(epsilon, n_in, n_out)
        dense_bytes = dense_layer_bytes(n_in, n_out)
        if p >= 1:
            connections, stored = n_in * n_out, dense_bytes
        else:
            connections = n_connections(p, n_in, n_out)
            stored = sparse_layer_bytes(n_out, connections)
        rows.append(dict(n_in=n_in, n_out=n_out, p=min(p, 1.0), sparse=p < 1,
                         connections=connections, dense_connections=n_in * n_out,
                         bytes=stored, dense_bytes=dense_bytes))
    return rows
