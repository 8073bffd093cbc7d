"""Are the numba kernels leaving speed on the table? The same loops in C, side by side.

    python benchmarks/kernels_vs_c.py [--rounds 15] [--batch 128] [--cc cc]

Builds the three sparse layers of ``benchmarks/epoch_time.py`` (784-1000-1000-1000, eps 20),
compiles the forward product (+ bias + ReLU) and the column backward (SDDMM + input gradient
+ ReLU mask) as plain C with ``restrict`` pointers, ``-O3 -march=native -ffast-math -fopenmp``,
and times both implementations alternately in one process, on the same OpenMP runtime and
thread count, after checking that they agree. Prints the best time of each per pass over the
three layers. Needs a C compiler with OpenMP (gcc or clang); says so and exits otherwise.
"""
import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numba
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from setcourse.nn import kernels  # noqa: E402
from setcourse import MLP  # noqa: E402

# The numba kernels' algorithms, loop for loop (8 connections per forward group, 4 per
# column-backward group), so only the compiler differs.
C_SOURCE = r"""
#include <stddef.h>
#include <stdint.h>
#include <omp.h>

void set_threads(int n) { omp_set_num_threads(n); }

/* weight k of values stored every S floats (a sparse layer interleaves value and velocity) */
#define W(k) data[(size_t)(k) * S]

void forward_relu(const int32_t *restrict indptr, const int32_t *restrict indices,
                  const float *restrict data, const float *restrict bias,
                  const float *restrict x, float *restrict out, int n_out, int B, int S) {
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < n_out; r++) {
        float *restrict row = out + (size_t)r * B;
        for (int b = 0; b < B; b++) row[b] = bias[r];
        int k = indptr[r], end = indptr[r + 1];
        for (; k + 8 <= end; k += 8) {
            const float *x0 = x + (size_t)indices[k] * B, *x1 = x + (size_t)indices[k + 1] * B;
            const float *x2 = x + (size_t)indices[k + 2] * B, *x3 = x + (size_t)indices[k + 3] * B;
            const float *x4 = x + (size_t)indices[k + 4] * B, *x5 = x + (size_t)indices[k + 5] * B;
            const float *x6 = x + (size_t)indices[k + 6] * B, *x7 = x + (size_t)indices[k + 7] * B;
            float w0 = W(k), w1 = W(k + 1), w2 = W(k + 2), w3 = W(k + 3);
            float w4 = W(k + 4), w5 = W(k + 5), w6 = W(k + 6), w7 = W(k + 7);
            for (int b = 0; b < B; b++)
                row[b] += ((w0 * x0[b] + w1 * x1[b]) + (w2 * x2[b] + w3 * x3[b]))
                        + ((w4 * x4[b] + w5 * x5[b]) + (w6 * x6[b] + w7 * x7[b]));
        }
        for (; k < end; k++) {
            const float *xk = x + (size_t)indices[k] * B;
            for (int b = 0; b < B; b++) row[b] += W(k) * xk[b];
        }
        for (int b = 0; b < B; b++) row[b] = row[b] > 0 ? row[b] : 0.0f;
    }
}

void backward_relu(const int32_t *restrict t_indptr, const int32_t *restrict t_indices,
                   const int32_t *restrict t_perm, const float *restrict data,
                   const float *restrict delta, const float *restrict x,
                   float *restrict grad, float *restrict bias_grad, float *restrict dx,
                   int n_in, int n_out, int B, int S) {
    #pragma omp parallel
    {
        #pragma omp for schedule(static) nowait
        for (int r = 0; r < n_out; r++) {
            float s = 0;
            for (int b = 0; b < B; b++) s += delta[(size_t)r * B + b];
            bias_grad[r] = s;
        }
        #pragma omp for schedule(static)
        for (int j = 0; j < n_in; j++) {
            float *restrict dxj = dx + (size_t)j * B;
            const float *restrict xj = x + (size_t)j * B;
            for (int b = 0; b < B; b++) dxj[b] = 0;
            int k = t_indptr[j], end = t_indptr[j + 1];
            for (; k + 4 <= end; k += 4) {
                const float *d0 = delta + (size_t)t_indices[k] * B;
                const float *d1 = delta + (size_t)t_indices[k + 1] * B;
                const float *d2 = delta + (size_t)t_indices[k + 2] * B;
                const float *d3 = delta + (size_t)t_indices[k + 3] * B;
                float w0 = W(t_perm[k]), w1 = W(t_perm[k + 1]);
                float w2 = W(t_perm[k + 2]), w3 = W(t_perm[k + 3]);
                float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                for (int b = 0; b < B; b++) {
                    float xb = xj[b];
                    a0 += d0[b] * xb; a1 += d1[b] * xb; a2 += d2[b] * xb; a3 += d3[b] * xb;
                    dxj[b] += (w0 * d0[b] + w1 * d1[b]) + (w2 * d2[b] + w3 * d3[b]);
                }
                grad[t_perm[k]] = a0; grad[t_perm[k + 1]] = a1;
                grad[t_perm[k + 2]] = a2; grad[t_perm[k + 3]] = a3;
            }
            for (; k < end; k++) {
                const float *d0 = delta + (size_t)t_indices[k] * B;
                float w = W(t_perm[k]), a = 0;
                for (int b = 0; b < B; b++) { a += d0[b] * xj[b]; dxj[b] += w * d0[b]; }
                grad[t_perm[k]] = a;
            }
            for (int b = 0; b < B; b++) dxj[b] = xj[b] > 0 ? dxj[b] : 0.0f;
        }
    }
}
"""


def compile_c(cc, directory):
    """Compile :data:`C_SOURCE` into a shared library; return it loaded."""
    source = os.path.join(directory, "kernels.c")
    library = os.path.join(directory, "libkernels.so")
    with open(source, "w") as f:
        f.write(C_SOURCE)
    subprocess.run([cc, "-O3", "-march=native", "-ffast-math", "-fopenmp", "-shared", "-fPIC",
                    source, "-o", library], check=True)
    return ctypes.CDLL(library)


def mean_seconds(function, repeat=50):
    """Mean seconds of ``repeat`` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--cc", default=os.environ.get("CC", "cc"))
    args = parser.parse_args(argv)
    if shutil.which(args.cc) is None:
        sys.exit(f"no C compiler {args.cc!r} on PATH (set --cc or CC): nothing to compare")

    warnings.simplefilter("ignore")
    model = MLP(hidden=(1000, 1000, 1000), topology="set", epsilon=20, seed=0).build(784, 10)
    layers = [layer.kernel_arrays() for layer in model.layers_[:3]]
    velocities = [layer.velocity_array() for layer in model.layers_[:3]]
    rng = np.random.default_rng(0)
    batch = args.batch
    x0 = rng.random((784, batch), dtype=np.float32)
    outs = [np.empty((1000, batch), np.float32) for _ in layers]
    c_outs = [np.empty_like(out) for out in outs]
    delta = rng.standard_normal((1000, batch)).astype(np.float32)
    grads = [np.empty_like(arrays[5]) for arrays in layers]
    c_grads = [np.empty_like(g) for g in grads]
    bias_grad, c_bias_grad = np.empty(1000, np.float32), np.empty(1000, np.float32)
    dxs = [np.empty((784 if i == 0 else 1000, batch), np.float32) for i in range(3)]
    c_dxs = [np.empty_like(dx) for dx in dxs]
    bias = [layer.bias for layer in model.layers_[:3]]

    def ptr(a):
        return a.ctypes.data_as(ctypes.c_void_p)

    with tempfile.TemporaryDirectory() as directory:
        lib = compile_c(args.cc, directory)
        lib.set_threads(numba.get_num_threads())

        def numba_forward():
            a = x0
            for (indptr, indices, _, _, _, values), b, out in zip(layers, bias, outs):
                kernels.sparse_forward(indptr, indices, values, b, a, out, kernels.EMPTY_ROWS,
                                       np.float32(0), 1.0, np.uint64(0), True)
                a = out

        def c_forward():
            a = x0
            for (indptr, indices, _, _, _, values), b, out in zip(layers, bias, c_outs):
                lib.forward_relu(ptr(indptr), ptr(indices), ptr(values), ptr(b), ptr(a), ptr(out),
                                 ctypes.c_int(out.shape[0]), ctypes.c_int(batch),
                                 ctypes.c_int(values.strides[0] // values.itemsize))
                a = out

        # The backward of every layer takes the forward's activations as its input x.
        inputs = [x0] + outs[:2]

        def numba_backward():
            for arrays, x, g, dx, velocity in zip(layers, inputs, grads, dxs, velocities):
                indptr, indices, t_indptr, t_indices, t_perm, values = arrays
                kernels.sparse_backward(indptr, indices, t_indptr, t_indices, t_perm, values,
                                        delta, x, g, bias_grad, dx, kernels.RELU_FROM_OUTPUT,
                                        kernels.EMPTY_ROWS, np.float32(0), 1.0, np.uint64(0), 64,
                                        velocity, *kernels.GRADIENT_ONLY)

        def c_backward():
            for arrays, x, g, dx in zip(layers, inputs, c_grads, c_dxs):
                _, _, t_indptr, t_indices, t_perm, values = arrays
                lib.backward_relu(ptr(t_indptr), ptr(t_indices), ptr(t_perm), ptr(values),
                                  ptr(delta), ptr(x), ptr(g), ptr(c_bias_grad), ptr(dx),
                                  ctypes.c_int(x.shape[0]), ctypes.c_int(1000), ctypes.c_int(batch),
                                  ctypes.c_int(values.strides[0] // values.itemsize))

        passes = {"numba forward": numba_forward, "C forward": c_forward,
                  "numba backward": numba_backward, "C backward": c_backward}
        for function in passes.values():
            function()
        for name, ours, theirs in (("forward", outs, c_outs), ("weight grad", grads, c_grads),
                                   ("input grad", dxs, c_dxs)):
            for a, b in zip(ours, theirs):
                if not np.allclose(a, b, rtol=1e-3, atol=1e-3):
                    sys.exit(f"numba and C disagree on the {name}: not comparing their speed")

        times = {key: [] for key in passes}
        for _ in range(args.rounds):  # alternate, so drifting load hits both alike
            for key, function in passes.items():
                times[key].append(mean_seconds(function))

    nnz = sum(arrays[5].size for arrays in layers)
    print(f"3 sparse layers, {nnz} connections, batch {batch}, "
          f"{numba.get_num_threads()} threads, best of {args.rounds} rounds of 50 passes")
    print(f"{'pass':10} {'numba ms':>9} {'C ms':>9} {'C / numba':>10}")
    for part in ("forward", "backward"):
        ours, theirs = min(times[f"numba {part}"]), min(times[f"C {part}"])
        print(f"{part:10} {ours * 1e3:9.3f} {theirs * 1e3:9.3f} {theirs / ours:10.2f}")


if __name__ == "__main__":
    main()
