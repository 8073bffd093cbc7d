r"""Memory of an Erdős–Rényi MLP before it is built: the ε demo's calculator and the byte model.

:func:`sparsity_table` gives the parameter bytes (weights, indices, biases) the ε demo shows;
they follow ``parameter_bytes`` of :class:`~setcourse.nn.layers.SparseLayer` and
:class:`~setcourse.nn.layers.DenseLayer` (``tests/widgets/test_epsilon_demo.py`` checks them
against built models). :func:`connection_arrays`, :func:`bytes_per_neuron` and
:func:`training_memory` count everything a training run keeps, from
:meth:`SparseLayer.storage <setcourse.nn.layers.SparseLayer.storage>` (the engine's own list
of its arrays; ``tests/analysis/test_memory.py`` checks it against built layers and the
measured peak):

============== ======= ============================================ =========
array          dtype   what                                         bytes
============== ======= ============================================ =========
data           float32 weight values (CSR of :math:`W^\top`)        4 / conn.
weight_velocity float32 momentum, interleaved with ``data``         4 / conn.
indices        int32   input neuron of each connection              4 / conn.
t_indices      int32   output neuron, in input-neuron order         4 / conn.
t_perm         int32   position in ``data``, in input-neuron order  4 (8) / conn.
weight_grad    float32 not kept: the update is fused in backward    0 (4)
indptr         int32   row pointers                                 4 (8) / output
t_indptr       int32   transpose row pointers                       4 (8) / input
bias, bias_grad, bias_velocity float32                              12 / output
============== ======= ============================================ =========

(8) from 2³¹ connections in a layer (int64); (4): L2 weight decay and the layers of RigL and
Sparse Momentum keep the gradient. Activations: float32, :data:`ACTIVATION_BYTES` per neuron
and sample (see :func:`activation_peak_bytes`).
"""
from .._validation import check_in_range
from ..nn.layers import INT64_CONNECTIONS, SparseLayer
from ..nn.network import training_activation_bytes
from ..nn.sparsity import erdos_renyi_density, n_connections

FLOAT_BYTES = 4        # float32 weights and biases
INDEX_BYTES = 4        # int32 column index per connection
INDPTR_LIMIT = INT64_CONNECTIONS   # from this many connections the row pointers are int64
#: bytes of one activation (float32) per neuron and sample
ACTIVATION_BYTES = 4
#: bytes per weight of a dense layer in training: weights, gradient, velocity (float32)
DENSE_TRAINING_BYTES = 12


def dense_layer_bytes(n_in, n_out):
    """Bytes of a fully connected float32 layer: weights and biases."""
    return FLOAT_BYTES * (n_in * n_out + n_out)


def sparse_layer_bytes(n_out, connections):
    """Bytes of a CSR layer: values and indices per connection, row pointers, biases."""
    indptr = 4 if connections < INT64_CONNECTIONS else 8
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


# -- the byte model of training ---------------------------------------------------------------
def connection_arrays(index64=False, gradient=False):
    """``{array: bytes per connection}`` of a sparse layer in training (see the module's table).

    ``index64``: a layer of at least 2³¹ connections (int64 permutation); ``gradient``: a layer
    that keeps its gradient (L2 decay, RigL, Sparse Momentum).
    """
    connections = INT64_CONNECTIONS if index64 else 1
    return {name: dtype.itemsize for name, dtype, _, per in
            SparseLayer.storage(1, 1, connections, gradient) if per == "connection"}


def bytes_per_connection(index64=False, gradient=False):
    """Bytes a sparse layer keeps per connection: 20 (24 with int64 or a kept gradient)."""
    return sum(connection_arrays(index64, gradient).values())


def bytes_per_neuron(index64=False):
    """``{"output": ..., "input": ...}``: bytes a sparse layer keeps per output neuron (row
    pointer, bias, its gradient and velocity) and per input neuron (transpose row pointer)."""
    connections = INT64_CONNECTIONS if index64 else 1
    out = {"output": 0, "input": 0}
    for _, dtype, _, per in SparseLayer.storage(1, 1, connections):
        if per in out:
            out[per] += dtype.itemsize
    return out


def activation_peak_bytes(sizes, batch_size, keeps_pre=False):
    r"""Peak bytes of the activations in a training step of an MLP of layer ``sizes``: the
    engine's rule, :func:`setcourse.nn.network.training_activation_bytes`.

    Each layer keeps its input (float32, ``(n_in, batch)``) from the forward pass until its
    own backward pass, which frees it when large (64 MiB and more; smaller ones stay until the
    next step); the backward of layer :math:`l` holds its delta ``(n_out, batch)`` and its
    input gradient ``(n_in, batch)`` at once. With every input freed:

    .. math::
        4 B \max_{l \ge 1} \Big(\sum_{i \le l} n_i + n_{l+1} + n_l\Big)

    with :math:`n_0` the inputs, :math:`n_{L}` the classes, :math:`B` the batch.
    ``keeps_pre``: leaky activations keep their pre-activation too (4 B more per hidden neuron
    and sample).
    """
    return training_activation_bytes(sizes, batch_size, keeps_pre)


def training_memory(sizes, epsilon, batch_size):
    """What a training step of an Erdős–Rényi SET-MLP keeps, in bytes, from its shape.

    Returns a dict: ``connections`` (sparse and dense weights), ``sparse_bytes`` (the arrays
    of :func:`connection_arrays` and :func:`bytes_per_neuron`), ``dense_bytes`` (weights,
    gradient and velocity of the dense layers, and their biases), ``activation_bytes``
    (:func:`activation_peak_bytes`) and ``total_bytes``. Not counted: the temporaries of
    building and rewiring (they come before the first step and after the last one of an
    epoch), the data set, the interpreter.
    """
    check_in_range("batch_size", batch_size, 1, None)
    sparse = dense = connections = 0
    for row in sparsity_table(sizes, epsilon):
        connections += row["connections"]
        if row["sparse"]:
            index64 = row["connections"] >= INT64_CONNECTIONS
            per = bytes_per_neuron(index64)
            sparse += (bytes_per_connection(index64) * row["connections"]
                       + per["output"] * row["n_out"] + per["input"] * (row["n_in"] + 1)
                       + (8 if index64 else 4))
        else:
            dense += DENSE_TRAINING_BYTES * (row["connections"] + row["n_out"])
    activations = activation_peak_bytes(sizes, batch_size)
    return {"connections": connections, "sparse_bytes": sparse, "dense_bytes": dense,
            "activation_bytes": activations, "total_bytes": sparse + dense + activations}
