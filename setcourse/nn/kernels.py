"""Numba kernels of the sparse layer: products with CSR weights on feature-major activations.

Activations are stored feature-major, ``(n_features, batch)`` and C-contiguous, so that one
connection ``(j, i)`` touches two contiguous rows of ``batch`` floats: the inner loops are
plain SIMD ``axpy``/``dot`` over the batch. Weights are the CSR of ``W^T`` (rows = output
neurons), so the forward pass parallelises over output rows without races; the input
gradient uses a second index (rows = input neurons) that reaches the same values through a
permutation, again race-free.

A training step of a sparse layer is two parallel regions: the forward product fused with
bias, activation and dropout, and the backward pass (weight gradient, bias gradient and the
input gradient fused with the previous activation's derivative). Every extra region costs a
thread wake-up, and every extra element-wise sweep costs as much as a sparse product at
1000 x 128 activations.

One concept, the compiled kernels of the layers (they share the dropout hash and the
derivative modes), hence over 350 lines.
"""
from .. import _threads  # noqa: F401  (sets the OpenMP wait policy before numba loads)
import numpy as np  # noqa: E402
from numba import njit, prange, types  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

_OPTIONS = dict(cache=True, fastmath=True, nogil=True)
_U32 = np.uint32


# -- dropout masks ---------------------------------------------------------------------------
@njit(inline="always")
def _row_key(seed, row):
    """32-bit key of one row of a dropout mask, from splitmix64 of ``(seed, row)``."""
    z = np.uint64(seed) + np.uint64(row + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return _U32((z ^ (z >> np.uint64(31))) >> np.uint64(32))


@njit(inline="always")
def _keeps(key, column, threshold):
    """Whether the mask keeps ``(row, column)``: murmur3's 32-bit finaliser of key and column.

    32-bit: three cheap multiplies per element instead of a 64-bit hash (AVX2 has no 64-bit
    multiply); within a row the hashed values are distinct because every step is a bijection
    of ``column``, and rows differ through their 64-bit keys.
    """
    h = key ^ _U32(_U32(column) * _U32(0x9E3779B1))
    h = _U32((h ^ (h >> _U32(16))) * _U32(0x85EBCA6B))
    h = _U32((h ^ (h >> _U32(13))) * _U32(0xC2B2AE35))
    h = h ^ (h >> _U32(16))
    return (h >> _U32(8)) < threshold


@njit(inline="always")
def _dropout_constants(keep_probability):
    """``(drop?, 24-bit threshold, 1/keep)`` of an inverted-dropout mask."""
    drop = keep_probability < 1.0
    threshold = _U32(keep_probability * 16777216.0) if drop else _U32(16777216)
    scale = np.float32(1.0 / keep_probability) if drop else np.float32(1.0)
    return drop, threshold, scale


@njit(**_OPTIONS)
def dropout_inplace(values, keep_probability, seed):
    """Inverted dropout in place: zero each entry with prob. ``1 - keep``, scale the rest by ``1/keep``.

    The mask is a pure function of ``(seed, row, column)`` (counter-based), so the backward
    pass re-applies exactly the same mask by calling this again with the same seed: dropout
    is linear, its gradient is the same masked scaling. The fused kernels below draw the same
    mask (same ``_row_key`` and ``_keeps``), so tests can rebuild it with this function.
    """
    drop, threshold, scale = _dropout_constants(keep_probability)
    if not drop:
        return
    for r in range(values.shape[0]):
        row = values[r]
        key = _row_key(seed, r)
        for c in range(row.size):
            row[c] = row[c] * scale if _keeps(key, c, threshold) else np.float32(0.0)


# -- element-wise activation with dropout (row helpers shared by the fused kernels) -----------
# Each helper takes plain rows: a row chosen at run time between two arrays, or a store
# guarded by a run-time flag, stops LLVM from vectorising (measured 8x slower).
@njit(inline="always")
def _fill_row(row, values):
    """``row[:] = values`` as a plain loop (numba's slice assignment is slower)."""
    for c in range(row.size):
        row[c] = values[c]


@njit(inline="always")
def _activate_row(row, slope, key, drop, threshold, scale):
    """In place: ``row = dropout(f(row))`` with ``f(z) = z if z > 0 else slope * z``."""
    for c in range(row.size):
        v = row[c]
        v = v if v > 0 else slope * v
        if drop:
            v = v * scale if _keeps(key, c, threshold) else np.float32(0.0)
        row[c] = v


# Modes of the backward epilogue: how dL/da becomes dL/dz for the previous activation.
NO_DERIVATIVE = 0   # return dL/da (no activation, or one not fused: sigmoid, tanh)
RELU_FROM_OUTPUT = 1  # ReLU + dropout: a > 0 marks exactly the kept, active units
FROM_PRE_ACTIVATION = 2  # slope != 0: f'(z) from the kept z, mask regenerated from the seed


@njit(inline="always")
def _relu_derivative_row(row, a_row, scale):
    """In place: ``row *= (a > 0) / keep``, the backward of ReLU + dropout from its output."""
    for c in range(row.size):
        row[c] = row[c] * scale if a_row[c] > 0 else np.float32(0.0)


@njit(inline="always")
def _piecewise_derivative_row(row, pre_row, slope, key, drop, threshold, scale):
    """In place: ``row *= f'(z) * mask / keep``, the mask regenerated from its key."""
    for c in range(row.size):
        d = np.float32(1.0) if pre_row[c] > 0 else slope
        if drop:
            d = d * scale if _keeps(key, c, threshold) else np.float32(0.0)
        row[c] *= d


@njit(**_OPTIONS)
def piecewise_linear_dropout(z, slope, keep_probability, seed, out, pre):
    """``out = dropout(f(z))`` with ``f(z) = z if z > 0 else slope * z``; ``pre = z`` if non-empty.

    For dense layers; a sparse layer does this inside :func:`sparse_forward`.
    """
    drop, threshold, scale = _dropout_constants(keep_probability)
    for r in range(z.shape[0]):
        if pre.shape[0] > 0:
            _fill_row(pre[r], z[r])
        row = out[r]
        _fill_row(row, z[r])
        _activate_row(row, slope, _row_key(seed, r), drop, threshold, scale)


@njit(**_OPTIONS)
def piecewise_linear_dropout_backward(grad, a, pre, mode, slope, keep_probability, seed):
    """In place: ``grad = dL/dz`` from ``dL/da`` for ``a = dropout(f(z))`` (see the modes)."""
    drop, threshold, scale = _dropout_constants(keep_probability)
    for r in range(grad.shape[0]):
        if mode == RELU_FROM_OUTPUT:
            _relu_derivative_row(grad[r], a[r], scale)
        elif mode == FROM_PRE_ACTIVATION:
            _piecewise_derivative_row(grad[r], pre[r], slope, _row_key(seed, r), drop,
                                      threshold, scale)


# -- weight update rules, for the backward kernel that applies them in place ------------------
# What the backward does with each connection's gradient g: store it (the optimiser applies it
# later), or apply SGD with momentum to the weight and its velocity right away, so that no
# gradient array is kept (4 bytes per connection). Only the decoupled rule is fused: its
# optimiser kernel has no fastmath, and inside a fastmath kernel plain Python arithmetic would
# be reassociated and contracted into FMAs (numba flags every float operation of the module,
# callees too: measured, 33 % of the weights then differ in the last bit). The rule is emitted
# as LLVM instructions carrying only ``ninf``, which numba's pass leaves alone and which allows
# no reassociation or contraction: the optimiser's exact operations, hence bit-identical. The
# L2 rule's kernel is fastmath, so its rounding depends on the surrounding code: not fused.
STORE_GRADIENT = 0
DECOUPLED_UPDATE = 1


@intrinsic
def _decoupled_step(typingctx, w, g, v, lr, momentum, weight_decay):
    """:func:`sgd_momentum_decoupled_update` on one float32 weight: ``(new w, new v)``,
    ``v' = momentum * v - lr * g``, ``w' = w + (v' - weight_decay * w)``, no fastmath."""
    f32 = types.float32
    sig = types.UniTuple(f32, 2)(f32, f32, f32, f32, f32, f32)

    def codegen(context, builder, signature, args):
        w_, g_, v_, lr_, mu_, wd_ = args
        exact = ("ninf",)  # any flag: numba's fastmath pass only flags unflagged operations
        new_v = builder.fsub(builder.fmul(mu_, v_, flags=exact),
                             builder.fmul(lr_, g_, flags=exact), flags=exact)
        new_w = builder.fadd(w_, builder.fsub(new_v, builder.fmul(wd_, w_, flags=exact),
                                              flags=exact), flags=exact)
        return context.make_tuple(builder, signature.return_type, (new_w, new_v))
    return sig, codegen


@njit(inline="always")
def _take_gradient(k, g, grad, data, velocity, rule, lr, momentum, weight_decay):
    """Connection ``k``'s gradient ``g``: stored in ``grad``, or applied by ``rule``."""
    if rule == STORE_GRADIENT:
        grad[k] = g
    else:
        data[k], velocity[k] = _decoupled_step(data[k], g, velocity[k], lr, momentum,
                                               weight_decay)


# -- sparse products ---------------------------------------------------------------------------
# Connection counters are unsigned (``_U64``) in the hot loops: with signed ones numba guards
# every ``data[k]``/``indices[k]`` against negative indices: dozens of scalar instructions per
# group of eight connections around a 16-iteration SIMD loop (three forwards 10-15 % faster
# without, alternated runs).
_U64 = np.uint64


@intrinsic
def _prefetch(typingctx, array, offset):
    """Hint the processor to fetch ``array[offset]`` into cache (``llvm.prefetch``: read,
    high locality); no effect on any result. ``array`` is 1-D, any stride (a sparse layer's
    values and velocities are interleaved views); ``offset`` unsigned."""
    sig = types.void(array, offset)

    def codegen(context, builder, signature, args):
        view = context.make_array(signature.args[0])(context, builder, args[0])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = builder.module.declare_intrinsic(
            "llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]))
        stride = builder.extract_value(view.strides, 0)  # bytes, 64-bit like ``offset``
        pointer = builder.gep(builder.bitcast(view.data, i8p), [builder.mul(args[1], stride)])
        builder.call(fn, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return sig, codegen


# At large widths every connection reads a row of ``batch`` floats at a random place of an
# activation block far larger than the caches: the products wait on memory. Each group of
# connections therefore asks for the first cache line of the rows (and weights) of the next
# group before it computes, so that their fetches overlap its arithmetic (the hardware
# prefetcher follows the rest of each row). Measured on this machine: see benchmarks/scale.py
# --kernels.
@njit(inline="always")
def _prefetch_rows(indices, k, count, n, xf):
    """Ask for the first cache line of the rows ``indices[k : k + count] * n`` of ``xf``."""
    size = _U64(indices.size)
    for t in range(count):
        kk = k + _U64(t)
        if kk < size:
            _prefetch(xf, _U64(indices[kk]) * n)


@njit(inline="always")
def _eight_offsets(indices, k, n):
    """Flat offsets ``indices[k + i] * n`` of eight consecutive connections' rows (unsigned)."""
    return (_U64(indices[k]) * n, _U64(indices[k + _U64(1)]) * n,
            _U64(indices[k + _U64(2)]) * n, _U64(indices[k + _U64(3)]) * n,
            _U64(indices[k + _U64(4)]) * n, _U64(indices[k + _U64(5)]) * n,
            _U64(indices[k + _U64(6)]) * n, _U64(indices[k + _U64(7)]) * n)


@njit(inline="always")
def _eight_values(data, k):
    """``data[k : k + 8]`` as a tuple (unsigned ``k``)."""
    return (data[k], data[k + _U64(1)], data[k + _U64(2)], data[k + _U64(3)],
            data[k + _U64(4)], data[k + _U64(5)], data[k + _U64(6)], data[k + _U64(7)])


@njit(inline="always")
def _accumulate_row(start, end, indices, data, xf, batch, row):
    """``row += sum_k data[k] * x[indices[k]]`` over ``k`` in ``[start, end)``.

    ``xf`` is ``x`` flattened: unsigned offsets spare numba's negative-index checks in the
    hot loop.
    """
    n = _U64(batch)
    k, end = _U64(start), _U64(end)
    # Eight connections at a time: one load and store of the output row per eight products.
    while k + _U64(8) <= end:
        _prefetch_rows(indices, k + _U64(8), 8, n, xf)
        w0, w1, w2, w3, w4, w5, w6, w7 = _eight_values(data, k)
        p0, p1, p2, p3, p4, p5, p6, p7 = _eight_offsets(indices, k, n)
        for b in range(batch):
            u = np.uint64(b)
            row[b] += ((w0 * xf[p0 + u] + w1 * xf[p1 + u]) + (w2 * xf[p2 + u] + w3 * xf[p3 + u])
                       + ((w4 * xf[p4 + u] + w5 * xf[p5 + u]) + (w6 * xf[p6 + u] + w7 * xf[p7 + u])))
        k += _U64(8)
    while k < end:
        w = data[k]
        p = _U64(indices[k]) * n
        for b in range(batch):
            row[b] += w * xf[p + _U64(b)]
        k += _U64(1)


@njit(parallel=True, **_OPTIONS)
def sparse_forward(indptr, indices, data, bias, x, out, pre, slope, keep_probability, seed,
                   activate):
    """``out = W^T x + b`` from the CSR of ``W^T``; with ``activate``, ``out = dropout(f(.))``.

    ``x``: ``(n_in, batch)``; ``out``: ``(n_out, batch)``. ``f`` is the piecewise-linear
    activation of ``slope`` (0 = ReLU); ``keep_probability >= 1`` means no dropout; ``pre``
    receives ``W^T x + b`` when it has rows (the backward of ``slope != 0`` needs it).
    """
    batch = x.shape[1]
    xf = x.reshape(-1)
    drop, threshold, scale = _dropout_constants(keep_probability)
    store_pre = pre.shape[0] > 0
    for r in prange(indptr.size - 1):
        row = out[r]
        b = bias[r]
        for c in range(batch):
            row[c] = b
        _accumulate_row(indptr[r], indptr[r + 1], indices, data, xf, batch, row)
        if store_pre:
            _fill_row(pre[r], row)
        if activate:
            _activate_row(row, slope, _row_key(seed, r), drop, threshold, scale)


@njit(inline="always")
def _sampled_gradient_row(start, end, indices, d, xf, batch, grad, data, velocity, rule, lr,
                          mu, wd):
    """SDDMM for one row: ``g_k = <d, x[indices[k]]>`` for ``k`` in ``[start, end)``, stored or
    applied (:func:`_take_gradient`)."""
    n = _U64(batch)
    k, end = _U64(start), _U64(end)
    # Eight dot products per pass over ``d``: an eighth of the loads of delta's row.
    while k + _U64(8) <= end:
        p0, p1, p2, p3, p4, p5, p6, p7 = _eight_offsets(indices, k, n)
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.float32(0.0)
        for b in range(batch):
            u = _U64(b)
            db = d[b]
            a0 += db * xf[p0 + u]
            a1 += db * xf[p1 + u]
            a2 += db * xf[p2 + u]
            a3 += db * xf[p3 + u]
            a4 += db * xf[p4 + u]
            a5 += db * xf[p5 + u]
            a6 += db * xf[p6 + u]
            a7 += db * xf[p7 + u]
        _take_gradient(k, a0, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(k + _U64(1), a1, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(k + _U64(2), a2, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(k + _U64(3), a3, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(k + _U64(4), a4, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(k + _U64(5), a5, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(k + _U64(6), a6, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(k + _U64(7), a7, grad, data, velocity, rule, lr, mu, wd)
        k += _U64(8)
    while k < end:
        p = _U64(indices[k]) * n
        acc = np.float32(0.0)
        for b in range(batch):
            acc += d[b] * xf[p + _U64(b)]
        _take_gradient(k, acc, grad, data, velocity, rule, lr, mu, wd)
        k += _U64(1)


@njit(inline="always")
def _column_backward(start, end, t_indices, t_perm, data, df, batch, xj, dxj, grad, velocity,
                     rule, lr, mu, wd):
    """Both backward products of one input neuron ``j``, in one pass over its connections.

    ``dxj = sum_k data[t_perm[k]] * delta[t_indices[k]]`` and
    ``grad[t_perm[k]] = <delta[t_indices[k]], x_j>``: each row of ``delta`` is loaded once
    and serves both, while ``x_j`` and ``dxj`` stay in L1. Half the memory traffic of an
    SDDMM over output rows followed by a separate input-gradient pass. With an update
    ``rule`` the weights change only after their group's products have read them.
    """
    n = _U64(batch)
    for b in range(batch):
        dxj[b] = 0
    k, end = _U64(start), _U64(end)
    size = _U64(t_indices.size)
    while k + _U64(4) <= end:
        # the next group's delta rows, weights and velocities (or gradients)
        for t in range(4):
            kk = k + _U64(4 + t)
            if kk < size:
                _prefetch(df, _U64(t_indices[kk]) * n)
                q = _U64(t_perm[kk])
                _prefetch(data, q)  # and an interleaved velocity: the same line
                if rule == STORE_GRADIENT:
                    _prefetch(grad, q)
                else:
                    _prefetch(velocity, q)
        q0, q1 = _U64(t_perm[k]), _U64(t_perm[k + _U64(1)])
        q2, q3 = _U64(t_perm[k + _U64(2)]), _U64(t_perm[k + _U64(3)])
        w0, w1, w2, w3 = data[q0], data[q1], data[q2], data[q3]
        p0 = _U64(t_indices[k]) * n
        p1 = _U64(t_indices[k + _U64(1)]) * n
        p2 = _U64(t_indices[k + _U64(2)]) * n
        p3 = _U64(t_indices[k + _U64(3)]) * n
        a0 = a1 = a2 = a3 = np.float32(0.0)
        for b in range(batch):
            u = _U64(b)
            d0, d1, d2, d3 = df[p0 + u], df[p1 + u], df[p2 + u], df[p3 + u]
            xb = xj[b]
            a0 += d0 * xb
            a1 += d1 * xb
            a2 += d2 * xb
            a3 += d3 * xb
            dxj[b] += (w0 * d0 + w1 * d1) + (w2 * d2 + w3 * d3)
        _take_gradient(q0, a0, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(q1, a1, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(q2, a2, grad, data, velocity, rule, lr, mu, wd)
        _take_gradient(q3, a3, grad, data, velocity, rule, lr, mu, wd)
        k += _U64(4)
    while k < end:
        q = _U64(t_perm[k])
        w = data[q]
        p = _U64(t_indices[k]) * n
        acc = np.float32(0.0)
        for b in range(batch):
            d = df[p + _U64(b)]
            acc += d * xj[b]
            dxj[b] += w * d
        _take_gradient(q, acc, grad, data, velocity, rule, lr, mu, wd)
        k += _U64(1)


@njit(parallel=True, **_OPTIONS)
def sparse_backward(indptr, indices, t_indptr, t_indices, t_perm, data, delta, x, grad,
                    bias_grad, dx, mode, pre, slope, keep_probability, seed, n_blocks, velocity,
                    rule, lr, momentum, weight_decay):
    """The backward pass of a sparse layer in one parallel region.

    - the weight gradient at the stored connections, ``g_k = <delta[r], x[indices[k]]>`` for
      each ``(r, indices[k])`` (SDDMM; never forms ``delta @ x.T``), stored in ``grad`` or,
      with an update ``rule``, applied at once (see below);
    - ``bias_grad[r] = sum(delta[r])``;
    - when ``dx`` has rows: ``dx = W delta`` through the transpose index, then multiplied by
      the derivative of the activation that produced ``x`` (``mode``, see above), so ``dx``
      is ``dL/dz`` of the previous layer. Then the SDDMM runs over the same transpose index
      (input neurons), sharing each loaded row of ``delta`` with the input gradient.

    ``rule`` ``STORE_GRADIENT`` (:data:`GRADIENT_ONLY` for the last four arguments) fills
    ``grad`` and leaves ``velocity`` alone. ``DECOUPLED_UPDATE`` applies the SGD step to each
    weight and its velocity as soon as its gradient is summed
    (:func:`sgd_momentum_decoupled_update`'s operations in the same order, bit for bit),
    after the input gradient has read the old weight: no gradient array (``grad`` may be
    empty), 4 bytes per connection less and one pass less over values and velocities. The
    biases are left to the optimiser. One kernel for both, so numba compiles one per layout.

    The work is cut into ``n_blocks`` blocks, each holding the same share of the loops, so
    a static schedule balances the threads.
    """
    if rule == STORE_GRADIENT and grad.size != data.size:  # the kernel writes grad unchecked
        raise ValueError("sparse_backward: grad must hold one value per connection to store "
                         "the gradient")
    n_out = indptr.size - 1
    n_in = dx.shape[0]
    batch = x.shape[1]
    xf = x.reshape(-1)
    df = delta.reshape(-1)
    drop, threshold, scale = _dropout_constants(keep_probability)
    for block in prange(n_blocks):
        for r in range(block * n_out // n_blocks, (block + 1) * n_out // n_blocks):
            d = delta[r]
            bias_grad[r] = np.sum(d)
            if n_in == 0:
                _sampled_gradient_row(indptr[r], indptr[r + 1], indices, d, xf, batch, grad,
                                      data, velocity, rule, lr, momentum, weight_decay)
        for j in range(block * n_in // n_blocks, (block + 1) * n_in // n_blocks):
            row = dx[j]
            _column_backward(t_indptr[j], t_indptr[j + 1], t_indices, t_perm, data, df, batch,
                             x[j], row, grad, velocity, rule, lr, momentum, weight_decay)
            if mode == RELU_FROM_OUTPUT:
                _relu_derivative_row(row, x[j], scale)
            elif mode == FROM_PRE_ACTIVATION:
                _piecewise_derivative_row(row, pre[j], slope, _row_key(seed, j), drop,
                                          threshold, scale)


#: the last four arguments of :func:`sparse_backward` that store the gradient (no update)
GRADIENT_ONLY = (STORE_GRADIENT, np.float32(0), np.float32(0), np.float32(0))
#: the ``grad`` of a :func:`sparse_backward` that applies an update rule (none is stored)
NO_GRADIENT = np.zeros(0, dtype=np.float32)


# -- topology and optimiser ------------------------------------------------------------------
@njit(inline="always")
def _column_pointers(indices, n_cols, dtype_sample):
    """Pointers of each column's first connection (length ``n_cols + 1``), in ``dtype_sample``'s
    dtype: the counting pass shared by :func:`group_by_column` and :func:`transpose_index`."""
    counts = np.zeros(n_cols + 1, dtype=dtype_sample.dtype)
    for k in range(indices.size):
        counts[indices[k] + 1] += 1
    for c in range(n_cols):
        counts[c + 1] += counts[c]
    return counts


@njit(**_OPTIONS)
def group_by_column(indices, n_cols, indptr_dtype_sample):
    """Counting sort of connections by column: ``(col_indptr, order)``, stable, O(nnz).

    ``order`` lists the connection positions grouped by column, ascending row order inside
    each group (the input is row-sorted CSR). Used for the transpose index.
    """
    counts = _column_pointers(indices, n_cols, indptr_dtype_sample)
    fill = counts[:-1].copy()
    order = np.empty(indices.size, dtype=indptr_dtype_sample.dtype)
    for k in range(indices.size):
        c = indices[k]
        order[fill[c]] = k
        fill[c] += 1
    return counts, order


@njit(**_OPTIONS)
def split_positions(positions, n_cols, indptr, indices):
    """CSR of sorted linear ``positions`` (``row * n_cols + col``) in one pass, no temporaries:
    ``indices[k] = col`` and ``indptr`` (length ``n_rows + 1``, zeroed by the caller) the row
    pointers."""
    for k in range(positions.size):
        p = positions[k]
        row = p // n_cols
        indices[k] = p - row * n_cols
        indptr[row + 1] += 1
    for r in range(indptr.size - 1):
        indptr[r + 1] += indptr[r]


@njit(**_OPTIONS)
def linear_positions(indptr, indices, n_cols, out):
    """``out[k] = row * n_cols + indices[k]`` (int64) for the CSR ``(indptr, indices)``."""
    for r in range(indptr.size - 1):
        base = np.int64(r) * n_cols
        for k in range(indptr[r], indptr[r + 1]):
            out[k] = base + indices[k]


@njit(**_OPTIONS)
def transpose_index(indptr, indices, n_cols):
    """``(t_indptr, t_indices, t_perm)``: :func:`group_by_column` and the row of each
    connection in that order, in one counting sort (no row-of-each array)."""
    counts = _column_pointers(indices, n_cols, indptr)
    fill = counts[:-1].copy()
    perm = np.empty(indices.size, dtype=indptr.dtype)
    rows = np.empty(indices.size, dtype=np.int32)
    for r in range(indptr.size - 1):
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            perm[fill[c]] = k
            rows[fill[c]] = r
            fill[c] += 1
    return counts, rows, perm


@njit(**_OPTIONS)
def sgd_momentum_update(weights, grad, velocity, lr, momentum, weight_decay):
    """In place: ``v = momentum * v - lr * (g + weight_decay * w)``; ``w += v`` (flat arrays)."""
    for k in range(weights.size):
        v = momentum * velocity[k] - lr * (grad[k] + weight_decay * weights[k])
        velocity[k] = v
        weights[k] += v


@njit(cache=True, nogil=True)
def sgd_momentum_decoupled_update(weights, grad, velocity, lr, momentum, weight_decay):
    """In place: ``v = momentum * v - lr * g``; ``w = w + v - weight_decay * w`` (flat arrays).

    The original SET tutorial's rule: the decay is applied once per step, outside the
    momentum and not scaled by the learning rate.
    """
    for k in range(weights.size):
        v = momentum * velocity[k] - lr * grad[k]
        velocity[k] = v
        weights[k] += v - weight_decay * weights[k]


# No fastmath and numpy's error model: diverged (inf/NaN) logits must give a non-finite loss,
# which the training loop reports, not a ZeroDivisionError or a finite number.
@njit(cache=True, nogil=True, error_model="numpy")
def softmax_cross_entropy(z, y, grad):
    """Mean of ``-log softmax(z)[y]`` over the batch; ``grad = (softmax(z) - Y) / batch``.

    ``z``: logits ``(n_classes, batch)``; ``y``: int labels ``(batch,)``. One pass instead of
    a dozen small numpy calls (0.13 ms per step of 128 samples, 4 % of a SET step).
    """
    n_classes, batch = z.shape
    total = 0.0
    inv_batch = np.float32(1.0 / batch)
    for b in range(batch):
        top = z[0, b]
        for c in range(1, n_classes):
            top = max(top, z[c, b])
        norm = np.float32(0.0)
        for c in range(n_classes):
            e = np.exp(z[c, b] - top)
            grad[c, b] = e
            norm += e
        for c in range(n_classes):
            grad[c, b] /= norm
        total -= np.log(max(np.float64(grad[y[b], b]), 1e-30))
        grad[y[b], b] -= np.float32(1.0)
        for c in range(n_classes):
            grad[c, b] *= inv_batch
    return total / batch


@njit(**_OPTIONS)
def gather_feature_major(X, index, out):
    """``out[:, b] = X[index[b]]``: a mini-batch of rows of ``X`` written feature-major.

    Tiled (16 samples x 64 features) so reads and writes both stay in cache: 0.15 ms
    against 0.5 ms for ``np.ascontiguousarray(X[index].T)`` on a 128 x 784 batch.
    """
    n, n_features = index.size, X.shape[1]
    for b0 in range(0, n, 16):
        b1 = min(n, b0 + 16)
        for f0 in range(0, n_features, 64):
            f1 = min(n_features, f0 + 64)
            for b in range(b0, b1):
                row = X[index[b]]
                for f in range(f0, f1):
                    out[f, b] = row[f]


EMPTY_ROWS = np.zeros((0, 0), dtype=np.float32)


def warm_up():
    """Compile (or load from cache) every kernel on tiny inputs, outside any timing."""
    f32 = np.float32
    indptr = np.array([0, 1], dtype=np.int32)
    indices = np.array([0], dtype=np.int32)
    data = np.ones(1, dtype=f32)
    x = np.ones((1, 2), dtype=f32)
    out = np.empty((1, 2), dtype=f32)
    seed = np.uint64(1)
    pair = np.zeros((2, 2), dtype=f32)  # 2 rows: a 1-element view counts as contiguous
    # Contiguous values (dense layers), and the interleaved value and velocity views of a
    # sparse layer: numba compiles each layout.
    for weights, velocity in ((data.copy(), data.copy()), (pair[:, 0], pair[:, 1])):
        grad = np.ones(weights.size, dtype=f32)
        for pre in (EMPTY_ROWS, out.copy()):
            sparse_forward(indptr, indices, weights, data, x, out, pre, f32(0.0), 0.5, seed,
                           True)
        for dx in (EMPTY_ROWS, out.copy()):
            sparse_backward(indptr, indices, indptr, indices, indices, weights, x, x, grad,
                            data.copy(), dx, FROM_PRE_ACTIVATION, x, f32(0.0), 0.5, seed, 1,
                            velocity, *GRADIENT_ONLY)
        sgd_momentum_update(weights, grad, velocity, f32(0.1), f32(0.9), f32(0.0))
        sgd_momentum_decoupled_update(weights, grad, velocity, f32(0.1), f32(0.9), f32(0.0))
    group_by_column(indices, 1, indptr[:1])
    transpose_index(indptr, indices, 1)
    split_positions(np.zeros(1, np.int64), 1, np.zeros(2, np.int32), np.zeros(1, np.int32))
    linear_positions(indptr, indices, 1, np.zeros(1, np.int64))
    dropout_inplace(x.copy(), 0.5, seed)
    for pre in (EMPTY_ROWS, out.copy()):
        piecewise_linear_dropout(x, f32(0.0), 0.5, seed, out, pre)
    piecewise_linear_dropout_backward(out, x, x, RELU_FROM_OUTPUT, f32(0.0), 0.5, seed)
    gather_feature_major(x, np.zeros(1, dtype=np.int64), out[:, :1].copy())
    softmax_cross_entropy(out, np.zeros(2, dtype=np.int64), out.copy())
