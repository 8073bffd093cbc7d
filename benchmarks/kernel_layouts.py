"""Other memory layouts of the sparse layer's kernels, timed against the engine's.

    python benchmarks/kernel_layouts.py [--widths 3333,333333,3333333] [--rounds 3]
                                        [--batch-size 128] [--blocks 32:4,64:8] [--lock FILE]

Per width, one h x h :class:`~setcourse.nn.layers.SparseLayer` (ε = 20) and activations
``(h, batch)``; within each round the contenders of a comparison run in turn (best of
``--rounds``, after an untimed round that compiles and checks them):

- forward ``W^T x + b``: the engine's :func:`~setcourse.nn.kernels.sparse_forward`, a forward
  blocked by input rows (x in chunks of C samples, one L3-sized block of rows at a time;
  ``--blocks C:MB,...``) and one reading bfloat16 rows (which the previous layer would write);
- backward with the fused update (:func:`~setcourse.nn.kernels.sparse_backward`) on
  the engine's layout (weight and velocity interleaved in one ``(nnz, 2)`` array) and on the
  previous one (two arrays, so two scattered cache lines per update);
- forward + backward, and the same with weights and velocities stored in transpose order
  (the forward gathers the weights through a permutation; the backward, the engine's kernel
  given the identity permutation, updates them sequentially).

Each alternative is checked against the engine (bit-equal when the arithmetic is the same,
else its relative error) and gets no time if the check fails. "floor" is the traffic of the
layout's scattered accesses at the measured bandwidth: a batch row per connection (4 B per
sample, 2 in bfloat16), a 64-byte line per scattered weight read, two lines per scattered
read-modify-write (one line for an interleaved weight and velocity, two for separate arrays):
4 + 5 = 9 B per connection-sample for a step (forward + backward) of the engine at batch 128.
``--lock FILE``: flock FILE for each width (not inside ``flock FILE``: it would wait for itself).

Measured on the 2-core AMD EPYC (16 MB L3) on 2026-12-02, quiet machine (nothing else
running), before the engine took the interleaved layout (fe0fe83; "engine" here is separate
arrays, "interleaved" a hand-written kernel since replaced by the engine's own):
``--widths 333333,3333333 --rounds 3 --blocks 64:8``, ns per connection-sample, batch 128,
best of 3; sequential read 29.5 GB/s with both threads (so the engine's floor is
0.34 ns per connection-sample: it runs at 2-3.4x its floor, bound by the latency of random
rows and lines rather than by bandwidth):

    width                         333,333   3,333,333
    forward   engine                0.268       0.346
              blocked C=64, 8 MB    0.325       1.217   (same sums: rel. err 0)
              bfloat16 rows         0.218       0.248   (rel. err 2.1e-3)
    backward  engine                0.403       0.688
              interleaved           0.362       0.577   (bit-equal)
    fwd+bwd   engine                0.668       1.146
              transpose order       0.673       1.016   (bit-equal)

Against the interleaved engine (592c3f4, same command one width at a time, a slower day:
23-25 GB/s): forward 0.300 / 0.427 (bfloat16 0.81x / 0.65x, blocked 1.51x / 3.51x); backward
0.398 / 0.620, the separate arrays 1.06x / 1.12x; forward + backward 0.731 / 1.109, transpose
order 1.00x / 1.00x (interleaving already took the gain it had over separate arrays).

An earlier run of three widths on a busy machine (17.3 GB/s read, figures moving by up to
2x) gave the same ordering; at width 3,333 everything runs from cache (engine forward 0.165,
blocked 0.21-0.30, bfloat16 0.109, backward 0.184 vs interleaved 0.187). The 3,333,333 width
peaks at 14 GiB of RSS; blocked forwards are slow to time (the C=32 one took 8 minutes).
"""
import argparse
import fcntl
import resource
import time

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from setcourse.nn import kernels
from setcourse.nn.kernels import _U64, _eight_offsets, _eight_values, _prefetch, _prefetch_rows

f32 = np.float32
_OPTIONS = dict(cache=True, fastmath=True, nogil=True)
LINE = 64  # bytes of a cache line
LR, MOMENTUM, DECAY, KEEP, SEED = f32(0.05), f32(0.9), f32(2e-4), 0.7, np.uint64(5)


@njit(parallel=True, **_OPTIONS)
def stream_sum(a):
    """Sum of a large 1-D array read once, in 64 parallel slices: the sequential bandwidth."""
    parts, n = np.zeros(64, np.float64), _U64(a.size)
    for s in prange(64):
        acc = f32(0)
        for i in range(_U64(s) * n // _U64(64), (_U64(s) + _U64(1)) * n // _U64(64)):
            acc += a[i]  # unsigned: no negative-index check, so the loop vectorises
        parts[s] = acc
    return parts.sum()


# -- forward from bfloat16 rows, or with weights stored in transpose order ----------------------
@intrinsic
def _widen(typingctx, value):
    """A bfloat16 (uint16) as float32: its bits in the high half, exact; a float32 unchanged."""
    def codegen(context, builder, signature, args):
        if signature.args[0] == types.float32:
            return args[0]
        i32 = ir.IntType(32)
        wide = builder.shl(builder.zext(args[0], i32), ir.Constant(i32, 16))
        return builder.bitcast(wide, ir.FloatType())
    return types.float32(value), codegen


def to_bfloat16(x):
    """``x`` rounded to the nearest bfloat16 (ties to even), as uint16 (by slices: no
    full-size temporaries)."""
    out = np.empty(x.shape, np.uint16)
    for i in range(0, x.shape[0], 2**16):
        bits = x[i:i + 2**16].view(np.uint32)
        out[i:i + 2**16] = (bits + np.uint32(0x7FFF) + ((bits >> 16) & 1)) >> 16
    return out


@njit(inline="always")
def _accumulate(k, end, hi, indices, data, slot, xf, n_cols, row):
    """The engine's ``row += w_k * x[indices[k]]`` from ``k`` while ``indices[k] < hi``; the
    next ``k``. ``w_k = data[k]``, or ``data[slot[k]]`` when ``slot`` is not None (the ``is
    None`` branches are pruned at compile time); rows of ``n_cols`` at ``indices[k] * n_cols``
    of ``xf``, widened from bfloat16 when ``xf`` is uint16."""
    n, size = _U64(n_cols), _U64(indices.size)
    k, end = _U64(k), _U64(end)
    while k + _U64(8) <= end and indices[k + _U64(7)] < hi:
        _prefetch_rows(indices, k + _U64(8), 8, n, xf)
        if slot is None:
            w0, w1, w2, w3, w4, w5, w6, w7 = _eight_values(data, k)
        else:
            for t in range(8, 16):  # scattered weights: ask for the next group's too
                if k + _U64(t) < size:
                    _prefetch(data, _U64(slot[k + _U64(t)]))
            q0, q1, q2, q3, q4, q5, q6, q7 = _eight_offsets(slot, k, _U64(1))
            w0, w1, w2, w3 = data[q0], data[q1], data[q2], data[q3]
            w4, w5, w6, w7 = data[q4], data[q5], data[q6], data[q7]
        p0, p1, p2, p3, p4, p5, p6, p7 = _eight_offsets(indices, k, n)
        for b in range(n_cols):
            u = _U64(b)
            row[b] += ((w0 * _widen(xf[p0 + u]) + w1 * _widen(xf[p1 + u]))
                       + (w2 * _widen(xf[p2 + u]) + w3 * _widen(xf[p3 + u]))
                       + ((w4 * _widen(xf[p4 + u]) + w5 * _widen(xf[p5 + u]))
                          + (w6 * _widen(xf[p6 + u]) + w7 * _widen(xf[p7 + u]))))
        k += _U64(8)
    while k < end and indices[k] < hi:
        w = data[k] if slot is None else data[_U64(slot[k])]
        p = _U64(indices[k]) * n
        for b in range(n_cols):
            row[b] += w * _widen(xf[p + _U64(b)])
        k += _U64(1)
    return k


@njit(parallel=True, **_OPTIONS)
def variant_forward(indptr, indices, data, slot, bias, x, out):
    """The engine's ``W^T x + b`` (no activation) through :func:`_accumulate`: bfloat16 rows
    when ``x`` is uint16, weights gathered when ``slot`` is given."""
    xf = x.reshape(-1)
    for r in prange(indptr.size - 1):
        row = out[r]
        for b in range(x.shape[1]):
            row[b] = bias[r]
        _accumulate(indptr[r], indptr[r + 1], x.shape[0], indices, data, slot, xf, x.shape[1],
                    row)


# -- forward blocked by input rows -------------------------------------------------------------
@njit(parallel=True, **_OPTIONS)
def to_chunks(x, xc):
    """``xc[c, i, :] = x[i, c*C : (c+1)*C]``: rows of C samples, so one block of rows fits L3."""
    for i in prange(x.shape[0]):
        for c in range(xc.shape[0]):
            for b in range(xc.shape[2]):
                xc[c, i, b] = x[i, c * xc.shape[2] + b]


@njit(parallel=True, **_OPTIONS)
def blocked_forward(indptr, indices, data, bias, xc, out, block_rows, cursor):
    """``out = W^T x + b`` one chunk of samples and one block of input rows at a time."""
    n_chunks, n_in, n_chunk = xc.shape
    for c in range(n_chunks):
        xf = xc[c].reshape(-1)
        for r in prange(indptr.size - 1):
            cursor[r] = indptr[r]
            for b in range(n_chunk):
                out[r, c * n_chunk + b] = bias[r]
        for hi in range(block_rows, n_in + block_rows, block_rows):  # one region per block
            for r in prange(indptr.size - 1):
                cursor[r] = _accumulate(cursor[r], indptr[r + 1], hi, indices, data, None, xf,
                                        n_chunk, out[r, c * n_chunk:(c + 1) * n_chunk])


# -- the measurements ----------------------------------------------------------------------------
def bandwidth(rounds):
    """GB/s of :func:`stream_sum` over 1 GiB, best of ``rounds`` (after a warm-up)."""
    a = np.ones(2**28, f32)
    stream_sum(a)
    return 1e-9 * a.nbytes / min(seconds(lambda: stream_sum(a)) for _ in range(rounds))


def seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def race(title, contenders, rounds, work, gbps):
    """Time ``(name, run, check, floor bytes)`` in turn within each round, best of ``rounds``
    after an untimed first round, and print the table. ``check()``, right after its contender's
    first and last run, returns ``(ok, note)``: a failed contender gets no time."""
    best, notes = [float("inf")] * len(contenders), [""] * len(contenders)
    for round_ in range(rounds + 1):
        for i, (_, run, check, _) in enumerate(contenders):
            elapsed = seconds(run)
            best[i] = min(best[i], elapsed) if round_ else best[i]
            if check is not None and round_ in (0, rounds) and "FAILED" not in notes[i]:
                ok, notes[i] = check()
                notes[i] = notes[i] if ok else "FAILED: " + notes[i]
    print(f"\n{title}\n  {'':30} {'ns':>7} {'ratio':>6} {'floor':>6}  check")
    for (name, _, _, floor), t, note in zip(contenders, best, notes):
        time_ = "-" if note.startswith("FAILED") else f"{t / work:.3f} {t / best[0]:6.2f}"
        print(f"  {name:30} {time_:>14} {f'{floor / gbps:.3f}' if floor else '-':>6}  {note}")


def measure(h, batch, rounds, blocks, gbps):
    """The three comparisons at width ``h``."""
    from setcourse.nn.layers import SparseLayer
    from setcourse.nn.sparsity import erdos_renyi_density
    rng = np.random.default_rng(0)
    L = SparseLayer(h, h, erdos_renyi_density(20, h, h), rng)
    x = np.maximum(rng.normal(size=(h, batch)), 0).astype(f32)
    ref, alt, bias_grad = np.empty_like(x), np.empty_like(x), np.empty(h, f32)
    work, line = 1e-9 * L.nnz * batch, LINE / batch  # a cache line per connection, per sample
    print(f"\nwidth {h:,}: {L.nnz:,} connections, activations {x.nbytes / 2**20:,.1f} MiB; "
          f"ns per connection-sample, floor at {gbps:.1f} GB/s", flush=True)

    def forward(data=L.data, out=ref):
        kernels.sparse_forward(L.indptr, L.indices, data, L.bias, x, out, kernels.EMPTY_ROWS,
                               f32(0), 1.0, SEED, False)

    def same(*pairs):
        return all(np.array_equal(a, b) for a, b in pairs), "bit-equal"

    def close(limit, note=""):
        err = float(np.abs(alt - ref).max() / np.abs(ref).max())
        return err < limit, f"rel. err {err:.1e}{note}"

    # forward: the engine, blocked by input rows, bfloat16 rows
    contenders = [("engine CSR, float32 rows", forward, None, 4.0)]
    x16, chunks, cursor = to_bfloat16(x), np.empty(x.size, f32), np.empty(h, np.int64)
    for n_chunk, megabytes in blocks:
        xc, chunking = chunks.reshape(batch // n_chunk, h, n_chunk), []

        def run(xc=xc, rows=max(1, int(megabytes * 2**20 / (4 * n_chunk))), chunking=chunking):
            chunking.append(seconds(lambda: to_chunks(x, xc)))  # as a previous layer would
            blocked_forward(L.indptr, L.indices, L.data, L.bias, xc, alt, rows, cursor)
        contenders.append((f"blocked C={n_chunk}, {megabytes:g} MB blocks", run, lambda c=chunking:
                           close(1e-5, f" (re-chunking x: {min(c) / work:.3f} ns)"), None))
    contenders.append(("bfloat16 rows", lambda: variant_forward(
        L.indptr, L.indices, L.data, None, L.bias, x16, alt), lambda: close(1e-2), 2.0))
    race("forward W^T x + b (the blocked times include re-chunking x)", contenders, rounds,
         work, gbps)
    contenders = chunks = xc = x16 = None  # freed before the backward's arrays

    # backward with the fused update: the engine (weight and velocity interleaved) and the
    # layout before fe0fe83 (two arrays: two scattered lines per update), same kernel
    delta = rng.normal(size=(h, batch)).astype(f32)

    def backward(data=L.data, t_perm=L.t_perm, velocity=L.weight_velocity, dx=ref):
        kernels.sparse_backward(
            L.indptr, L.indices, L.t_indptr, L.t_indices, t_perm, data, delta, x,
            kernels.NO_GRADIENT, bias_grad, dx, kernels.RELU_FROM_OUTPUT, kernels.EMPTY_ROWS,
            f32(0), KEEP, SEED, 64, velocity, kernels.DECOUPLED_UPDATE, LR, MOMENTUM, DECAY)
    data, velocity = L.data.copy(), L.weight_velocity.copy()
    race("backward with the fused update (weights, velocities, input gradient)",
         [("engine (nnz, 2) interleaved", backward, None, 4 + 2 * line),
          ("separate data + velocity", lambda: backward(data, L.t_perm, velocity, alt),
           lambda: same((ref, alt), (data, L.data), (velocity, L.weight_velocity)),
           4 + 4 * line)], rounds, work, gbps)
    data = velocity = None

    # a step, forward + backward: the engine, weights and velocities in transpose order
    tdata, tvelocity = L.data[L.t_perm], L.weight_velocity[L.t_perm]
    slot = np.empty_like(L.t_perm)  # where connection k's weight is: the inverse of t_perm
    slot[L.t_perm] = np.arange(L.nnz, dtype=slot.dtype)
    identity = np.arange(L.nnz, dtype=L.t_perm.dtype)
    forward()
    variant_forward(L.indptr, L.indices, tdata, slot, L.bias, x, alt)
    forward_ok = np.array_equal(ref, alt)

    def t_order():
        variant_forward(L.indptr, L.indices, tdata, slot, L.bias, x, alt)
        backward(tdata, identity, tvelocity, alt)

    def t_check():
        ok, note = same((ref, alt), (tdata, L.data[L.t_perm]),
                        (tvelocity, L.weight_velocity[L.t_perm]))
        return ok and forward_ok, note if forward_ok else "the forward differs"
    race("forward + backward (a training step of the layer)",
         [("engine", lambda: (forward(), backward()), None, 8 + 2 * line),
          ("transpose-order storage", t_order, t_check, 8 + line)], rounds, work, gbps)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="3333,333333,3333333")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--blocks", default="32:4,64:8", help="C:MB[,C:MB...]: samples per "
                        "chunk (dividing the batch) and MB per block of the blocked forward")
    parser.add_argument("--lock", help="run each width under flock LOCK")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    blocks = [(int(c), float(mb)) for c, mb in (s.split(":") for s in args.blocks.split(","))]
    if args.rounds < 1 or args.batch_size < 1 or min(widths) < 1:
        parser.error("--rounds, --batch-size and the widths must be >= 1")
    if any(c < 1 or args.batch_size % c for c, _ in blocks):
        parser.error(f"every C of --blocks must divide --batch-size {args.batch_size}")
    kernels.warm_up()
    batch, line = args.batch_size, LINE / args.batch_size
    with open(args.lock or "/dev/null", "a") as lock:
        for i in range(len(widths) + 1):
            if args.lock:  # one heavy measurement at a time on a shared machine
                fcntl.flock(lock, fcntl.LOCK_EX)
            if i == 0:
                gbps = bandwidth(args.rounds)
                print(f"sequential read (2 threads, 1 GiB): {gbps:.1f} GB/s. Bytes moved, the "
                      f"floor of the engine's layout at batch {batch}: forward 4.0, backward "
                      f"{4 + 2 * line:.1f}, step {8 + 2 * line:.1f} B per connection-sample = "
                      f"{4 / gbps:.3f}, {(4 + 2 * line) / gbps:.3f}, "
                      f"{(8 + 2 * line) / gbps:.3f} ns; best of {args.rounds}", flush=True)
            else:
                measure(widths[i - 1], batch, args.rounds, blocks, gbps)
            if args.lock:
                fcntl.flock(lock, fcntl.LOCK_UN)


if __name__ == "__main__":
    main()
