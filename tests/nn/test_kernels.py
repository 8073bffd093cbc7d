"""Kernels against scipy/numpy on small random CSR matrices."""
import numpy as np
import pytest
import scipy.sparse as sp

from setcourse.nn import kernels


def random_csr(n_rows, n_cols, density, seed):
    m = sp.random(n_rows, n_cols, density=density, format="csr", random_state=seed,
                  dtype=np.float32)
    m.sort_indices()
    return m


def transpose_index(w):
    t_indptr, order = kernels.group_by_column(w.indices, w.shape[1], w.indptr[:1])
    rows = np.repeat(np.arange(w.shape[0], dtype=np.int32), np.diff(w.indptr))
    return t_indptr, rows[order], order


@pytest.mark.parametrize("batch", [1, 3, 50])
def test_forward_product_matches_scipy(batch):
    rng = np.random.default_rng(0)
    w = random_csr(37, 29, 0.2, 1)
    x = rng.normal(size=(29, batch)).astype(np.float32)
    bias = rng.normal(size=37).astype(np.float32)
    out = np.empty((37, batch), np.float32)
    kernels.sparse_forward(w.indptr, w.indices, w.data, bias, x, out, kernels.EMPTY_ROWS,
                           np.float32(0), 1.0, np.uint64(0), False)
    np.testing.assert_allclose(out, w @ x + bias[:, None], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("slope", [0.0, 0.3, -0.6])
@pytest.mark.parametrize("keep", [1.0, 0.7])
def test_fused_forward_is_product_then_activation_then_dropout(slope, keep):
    rng = np.random.default_rng(3)
    w = random_csr(31, 17, 0.3, 4)
    x = rng.normal(size=(17, 21)).astype(np.float32)
    bias = rng.normal(size=31).astype(np.float32)
    out = np.empty((31, 21), np.float32)
    pre = np.empty((31, 21), np.float32)
    seed = np.uint64(99)
    kernels.sparse_forward(w.indptr, w.indices, w.data, bias, x, out, pre, np.float32(slope),
                           keep, seed, True)
    z = w @ x + bias[:, None]
    expected = np.where(z > 0, z, slope * z).astype(np.float32)
    kernels.dropout_inplace(expected, keep, seed)
    np.testing.assert_allclose(pre, z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_backward_matches_scipy_and_the_activation_derivative():
    rng = np.random.default_rng(1)
    w = random_csr(40, 23, 0.3, 2)
    t_indptr, t_indices, t_perm = transpose_index(w)
    np.testing.assert_array_equal(t_perm, np.argsort(w.indices, kind="stable"))
    delta = rng.normal(size=(40, 7)).astype(np.float32)
    z_prev = rng.normal(size=(23, 7)).astype(np.float32)
    keep, seed, rows = 0.6, np.uint64(7), np.repeat(np.arange(40), np.diff(w.indptr))
    mask = np.ones_like(z_prev)
    kernels.dropout_inplace(mask, keep, seed)
    for mode, slope in ((kernels.NO_DERIVATIVE, 0.0), (kernels.RELU_FROM_OUTPUT, 0.0),
                        (kernels.FROM_PRE_ACTIVATION, 0.25)):
        x = np.where(z_prev > 0, z_prev, slope * z_prev) * mask  # the layer's input a
        grad = np.full(w.nnz, np.nan, np.float32)
        bias_grad = np.full(40, np.nan, np.float32)
        dx = np.full((23, 7), np.nan, np.float32)
        kernels.sparse_backward(w.indptr, w.indices, t_indptr, t_indices, t_perm, w.data,
                                delta, x, grad, bias_grad, dx, mode, z_prev, np.float32(slope),
                                keep, seed, 5, w.data.copy(), *kernels.GRADIENT_ONLY)
        np.testing.assert_allclose(grad, (delta @ x.T)[rows, w.indices], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(bias_grad, delta.sum(axis=1), rtol=1e-5, atol=1e-5)
        derivative = 1.0 if mode == kernels.NO_DERIVATIVE else np.where(z_prev > 0, 1.0, slope) * mask
        np.testing.assert_allclose(dx, (w.T @ delta) * derivative, rtol=1e-5, atol=1e-5)


def test_backward_without_input_gradient_leaves_it_alone():
    rng = np.random.default_rng(5)
    w = random_csr(9, 30, 0.4, 6)
    t_indptr, t_indices, t_perm = transpose_index(w)
    delta = rng.normal(size=(9, 4)).astype(np.float32)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    grad, bias_grad = np.empty(w.nnz, np.float32), np.empty(9, np.float32)
    kernels.sparse_backward(w.indptr, w.indices, t_indptr, t_indices, t_perm, w.data, delta, x,
                            grad, bias_grad, kernels.EMPTY_ROWS, kernels.NO_DERIVATIVE,
                            kernels.EMPTY_ROWS, np.float32(0), 1.0, np.uint64(0), 64,
                            w.data.copy(), *kernels.GRADIENT_ONLY)
    rows = np.repeat(np.arange(9), np.diff(w.indptr))
    np.testing.assert_allclose(grad, (delta @ x.T)[rows, w.indices], rtol=1e-4, atol=1e-5)


def test_backward_that_stores_the_gradient_refuses_a_short_gradient_array():
    w = random_csr(9, 30, 0.4, 6)
    t_indptr, t_indices, t_perm = transpose_index(w)
    delta, x = np.ones((9, 4), np.float32), np.ones((30, 4), np.float32)
    with pytest.raises(ValueError, match="grad must hold one value per connection"):
        kernels.sparse_backward(w.indptr, w.indices, t_indptr, t_indices, t_perm, w.data, delta,
                                x, kernels.NO_GRADIENT, np.empty(9, np.float32),
                                kernels.EMPTY_ROWS, kernels.NO_DERIVATIVE, kernels.EMPTY_ROWS,
                                np.float32(0), 1.0, np.uint64(0), 64, w.data.copy(),
                                *kernels.GRADIENT_ONLY)


def test_sgd_update_matches_the_formula():
    rng = np.random.default_rng(2)
    w, g, v = (rng.normal(size=10).astype(np.float32) for _ in range(3))
    w0, v0 = w.copy(), v.copy()
    kernels.sgd_momentum_update(w, g, v, np.float32(0.1), np.float32(0.9), np.float32(0.01))
    v_expected = 0.9 * v0 - 0.1 * (g + 0.01 * w0)
    np.testing.assert_allclose(v, v_expected, rtol=1e-6)
    np.testing.assert_allclose(w, w0 + v_expected, rtol=1e-6)


def test_gather_feature_major_is_the_transposed_batch():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(50, 131)).astype(np.float32)  # features not a multiple of the tile
    index = rng.permutation(50)[:37]  # nor the batch
    out = np.empty((131, 37), np.float32)
    kernels.gather_feature_major(X, index, out)
    np.testing.assert_array_equal(out, X[index].T)


def test_softmax_cross_entropy_matches_numpy():
    rng = np.random.default_rng(8)
    z = (rng.normal(size=(10, 33)) * 30).astype(np.float32)  # large logits: needs the shift
    y = rng.integers(0, 10, size=33)
    grad = np.empty_like(z)
    loss = kernels.softmax_cross_entropy(z, y, grad)
    shifted = z.astype(np.float64) - z.max(axis=0)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=0)
    expected = p.copy()
    expected[y, np.arange(33)] -= 1
    assert loss == pytest.approx(-np.mean(np.log(np.maximum(p[y, np.arange(33)], 1e-30))), rel=1e-5)
    np.testing.assert_allclose(grad, expected / 33, rtol=1e-4, atol=1e-6)


def test_softmax_cross_entropy_of_diverged_logits_is_not_finite():
    z = np.array([[np.inf, 1.0], [np.nan, 2.0]], dtype=np.float32)
    loss = kernels.softmax_cross_entropy(z, np.array([0, 1]), np.empty_like(z))
    assert not np.isfinite(loss)


@pytest.mark.parametrize("user_setting, expected", [
    ({}, "3000 1"),                                   # short spin by default
    ({"OMP_WAIT_POLICY": "ACTIVE"}, "None None"),     # the user's policy wins
    ({"GOMP_SPINCOUNT": "200000"}, "200000 1"),       # and so does the user's spin count
])
def test_openmp_wait_settings_respect_the_user(user_setting, expected):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    env.update(user_setting)
    code = ("import os, setcourse.nn.kernels; "
            "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('KMP_BLOCKTIME'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == expected


# In a fresh interpreter (an earlier test's compilations would hide a gap): after the
# warm-ups, fits of the layouts and paths a course uses compile nothing more.
WARM_UP_COVERS_FITS = r"""
import warnings
import numpy as np
from numba.core.registry import CPUDispatcher
from setcourse import MLP, RBM
from setcourse.nn import kernels as nn_kernels
from setcourse.rbm import kernels as rbm_kernels
from setcourse.rbm.weights import warm_up
warm_up()
modules = (nn_kernels, rbm_kernels)
dispatchers = {f"{m.__name__}.{name}": f for m in modules for name, f in vars(m).items()
               if isinstance(f, CPUDispatcher)}
before = {name: len(f.signatures) for name, f in dispatchers.items()}
rng = np.random.default_rng(0)
X, y = rng.random((96, 40), dtype=np.float32), rng.integers(0, 10, 96)
warnings.simplefilter("ignore")
for topology in ("set", "rigl", "dense"):  # fused, gradient-storing, BLAS + dense kernels
    MLP(hidden=(64, 32), epsilon=4, epochs=2, batch_size=32, topology=topology).fit(
        X, y, validation_data=(X, y))
MLP(hidden=(64,), epsilon=4, epochs=2, batch_size=32, dropout=0.0,
    activation="leaky_relu").fit(X, y)
RBM(n_hidden=24, epochs=2, epsilon=4).fit((X > 0.5).astype(np.float32))
print({name: (before[name], len(f.signatures)) for name, f in dispatchers.items()
       if len(f.signatures) != before[name]})
"""


def test_warm_up_compiles_every_kernel_a_fit_uses():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", WARM_UP_COVERS_FITS], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "{}", f"compiled after the warm-up: {result.stdout}"
