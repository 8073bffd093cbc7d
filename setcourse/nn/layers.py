"""Linear layers on feature-major activations: a dense one (BLAS) and a truly sparse one (CSR).

Both compute :math:`z = W^\\top x + b` for ``x`` of shape ``(n_in, batch)`` and return ``z`` of
shape ``(n_out, batch)``, so both share the same code above them: the model only calls
``forward``, ``backward`` and ``parameters``.

**Orientation.** :math:`W` is ``(n_in, n_out)`` (rows = inputs) in everything a layer hands
out: ``weights``, ``to_dense()``, ``to_scipy()``. The storage is output-major, the transpose
(``weights_t`` ``(n_out, n_in)`` for the dense layer, the CSR of :math:`W^\\top` for the sparse
one), because that is what the kernels parallelise over; the gradient and momentum arrays are
aligned with the storage. Linear positions (``positions()``) are ``out * n_in + in``.

One concept, the layer types (base, the kernel-backed products they share, dense, sparse),
hence a little over 350 lines.
"""
import numpy as np
import scipy.sparse as sp

from .._validation import check_finite_arrays, check_state_arrays
from . import kernels
from .activations import PiecewiseLinear
from .sparsity import erdos_renyi_positions, sample_empty_positions

INITS = ("actual_fan_in", "dense_fan_in")
F32 = (np.dtype(np.float32),)
# Blocks of the backward kernel: many more than threads, so a static schedule balances.
_BLOCKS = 64
# Dense layers up to this many weights use the kernels instead of BLAS (see DenseLayer).
KERNEL_MAX_WEIGHTS = 65536
#: a layer's kept input of at least this many bytes is freed by its backward pass
#: (:meth:`Layer.release_input`); smaller ones are kept until the next forward pass
RELEASE_INPUT_BYTES = 2**26
#: a sparse layer with this many connections or more has int64 row pointers and transpose
#: permutation (int32 cannot address them); below, int32. Tests lower it to run the int64 paths.
INT64_CONNECTIONS = 2**31


def index_dtype(connections):
    """int32 for the row pointers and transpose permutation of a layer, int64 from
    :data:`INT64_CONNECTIONS` connections on."""
    return np.int64 if connections >= INT64_CONNECTIONS else np.int32


def he_uniform_limits(fan_in, init, n_in):
    r"""Half-width of the He-uniform init, :math:`\sqrt{6 / \mathrm{fan\_in}}`, per output neuron.

    ``actual_fan_in`` uses each neuron's real number of inputs; ``dense_fan_in`` uses ``n_in``
    for every neuron (the original tutorial's choice: sparse nets then start almost silent).
    """
    if init == "dense_fan_in":
        return np.full(np.shape(fan_in), np.sqrt(6.0 / n_in))
    if init == "actual_fan_in":
        return np.sqrt(6.0 / np.maximum(fan_in, 1))
    raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")


class Layer:
    """What the model needs from a layer: shapes, parameters, forward and backward.

    Subclasses implement the three products :meth:`linear`, :meth:`store_gradients` and
    :meth:`input_gradient`, which :meth:`forward` and :meth:`backward` wire to the hidden
    activation (a :class:`~setcourse.nn.activations.ActivationDropout`); or they override
    :meth:`forward` and :meth:`backward` to fuse it all (:class:`SparseLayer`).

    For checkpoints a layer gives its state as named arrays (:meth:`state_arrays`) and takes
    it back (:meth:`restore`); the names are those of the checkpoint file.
    """

    #: stored as CSR (truly sparse); False for layers that hold a dense matrix
    sparse = False
    #: whether :meth:`backward` keeps ``delta`` = dL/dz for the evolution rules that grow by
    #: gradient or momentum (see :class:`~setcourse.evolution.growth.TracedSparseLayer`)
    keeps_delta = False
    #: whether the optimiser may apply the weight update inside :meth:`backward` (no gradient
    #: array kept); layers whose gradients are read between backward and update say no
    fuses_update = False

    def __init__(self, n_in, n_out):
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.bias = np.zeros(n_out, dtype=np.float32)
        self.bias_grad = np.zeros(n_out, dtype=np.float32)
        self.bias_velocity = np.zeros(n_out, dtype=np.float32)
        self.input = None  # last forward input, kept for backward and for RigL-style growth
        self.delta = None  # last backward delta, kept only when ``keeps_delta``

    def forward(self, x, step=None):
        """``z = W^T x + b`` ``(n_out, batch)`` for ``x`` ``(n_in, batch)``; or ``step``'s output.

        With a :class:`~setcourse.nn.activations.ActivationDropout` the layer returns
        ``a = dropout(f(z))`` and the step keeps what its backward needs.
        """
        self.input = x
        z = self.linear(x)
        return z if step is None else step.forward(z)

    def backward(self, delta, need_input_grad=True, input_step=None):
        """Store the gradients for ``delta = dL/dz``; return ``dL/dx`` (or ``None``).

        With ``input_step`` (the hidden step that produced this layer's input) the result is
        carried through it: ``dL/dz`` of the previous layer.
        """
        self.store_gradients(delta)
        if not need_input_grad:
            self.release_input()
            return None
        dx = self.input_gradient(delta, None if input_step is None
                                 else input_step.empty((self.n_in, delta.shape[1])))
        dx = dx if input_step is None else input_step.backward(dx, self.input)
        self.release_input()
        return dx

    def release_input(self):
        """After the backward pass: drop a large kept input (its activations are freed while
        the layers below are back-propagated), unless evolution reads it (:attr:`keeps_delta`).

        Only from :data:`RELEASE_INPUT_BYTES`: small ones stay until the next forward pass
        replaces them, whose output then reuses their memory while it is in cache (freed early,
        the 784-1000-1000-1000-10 epoch took 1.3 s instead of 1.0: fresh pages every step)."""
        if (not self.keeps_delta and self.input is not None
                and self.input.nbytes >= RELEASE_INPUT_BYTES):
            self.input = None

    def linear(self, x):
        """``W^T x + b``."""
        raise NotImplementedError

    def store_gradients(self, delta):
        """Fill ``weight_grad`` and ``bias_grad`` from ``delta`` and the kept input."""
        raise NotImplementedError

    def input_gradient(self, delta, out=None):
        """``dL/dx = W delta``, written to ``out`` when given."""
        raise NotImplementedError

    def release_gradient(self):
        """Drop the weight-gradient array (kept only by layers that store gradients)."""

    def parameters(self):
        """``(value, grad, velocity)`` triples of flat arrays, for the optimiser."""
        return [(self.weight_values(), self.weight_grad, self.weight_velocity),
                (self.bias, self.bias_grad, self.bias_velocity)]

    @property
    def density(self):
        return self.nnz / (self.n_in * self.n_out)

    def parameter_bytes(self):
        """Bytes of the weight values, bias and index arrays (not optimiser state)."""
        raise NotImplementedError

    def to_dense(self):
        """Weights as a dense ``(n_in, n_out)`` float32 array (a copy)."""
        raise NotImplementedError

    def to_scipy(self):
        """Weights as a scipy CSR matrix ``(n_in, n_out)`` (a copy)."""
        return sp.csr_matrix(self.to_dense())

    # -- checkpoints ------------------------------------------------------------------------
    def state_arrays(self):
        """Everything a checkpoint needs to rebuild this layer, as ``{name: array}``."""
        return {"bias": self.bias, "bias_velocity": self.bias_velocity}

    @classmethod
    def state_spec(cls, n_in, n_out):
        """What :meth:`restore` takes for a layer ``n_in -> n_out``: ``{name: (shape, dtypes)}``.

        A string in a shape (``"nnz"``) is a length the arrays choose, the same in every array
        where it appears. The checkpoint checks a file's array headers against it before
        reading their data.
        """
        return {"bias": ((n_out,), F32), "bias_velocity": ((n_out,), F32)}

    @classmethod
    def check_state(cls, arrays, n_in, n_out, prefix=""):
        """Raise ValueError naming the first array of ``arrays`` a layer ``n_in -> n_out`` cannot
        take back: a missing or unexpected name, a shape or dtype other than
        :meth:`state_spec`'s, a NaN or inf. Subclasses add their structure (a sparse layer's
        index). O(size) and vectorised; :meth:`restore` calls it first."""
        spec = cls.state_spec(n_in, n_out)
        cls.check_state_shapes(arrays, n_in, n_out, prefix)
        check_finite_arrays(arrays, [name for name, (_, dtypes) in spec.items()
                                     if dtypes == F32], prefix)

    @classmethod
    def check_state_shapes(cls, arrays, n_in, n_out, prefix=""):
        """Only the names, shapes and dtypes of :meth:`check_state`: anything with ``shape``
        and ``dtype`` will do (the checkpoint passes a file's array headers, before reading
        the data). Returns the lengths the arrays chose (``{"nnz": ...}``)."""
        return check_state_arrays(arrays, cls.state_spec(n_in, n_out), prefix)

    def restore(self, arrays):
        """Take back the state of :meth:`state_arrays` (a layer of the same shape), checked
        by :meth:`check_state` first: arrays from a file never reach the kernels unchecked."""
        self.check_state(arrays, self.n_in, self.n_out)
        self.restore_checked(arrays)

    def restore_checked(self, arrays):
        """:meth:`restore` without the check, for arrays :meth:`check_state` has passed."""
        self.bias[:] = arrays["bias"]
        self.bias_velocity[:] = arrays["bias_velocity"]


class KernelProducts:
    """Forward and backward of a layer through the numba kernels over a CSR index.

    The forward product runs fused with bias, a piecewise-linear activation and dropout; the
    backward computes weight, bias and input gradients and the previous activation's
    derivative in one kernel. The class provides :meth:`kernel_arrays` and may opt out per
    call with :attr:`uses_kernels` (then :class:`Layer`'s generic path runs).
    """

    uses_kernels = True
    #: the optimiser whose step this layer applies inside its next backward pass (see
    #: :meth:`~setcourse.nn.optim.SGD.step`), or None
    update_with = None
    #: set by a backward pass that updated the weights, cleared by the optimiser's step
    weights_updated = False

    def kernel_arrays(self):
        """``(indptr, indices, t_indptr, t_indices, t_perm, values)``, flat values."""
        raise NotImplementedError

    def gradient_array(self):
        """The flat weight-gradient array the backward kernel fills."""
        raise NotImplementedError

    def velocity_array(self):
        """The flat velocities aligned with :meth:`kernel_arrays`' values (a view)."""
        return self.weight_velocity.reshape(-1)

    def forward(self, x, step=None):
        """As :meth:`Layer.forward`; a piecewise-linear step runs inside the product kernel."""
        if not self.uses_kernels or (step is not None
                                     and not isinstance(step.activation, PiecewiseLinear)):
            return super().forward(x, step)
        self.input = x
        indptr, indices, _, _, _, values = self.kernel_arrays()
        out = (np.empty((self.n_out, x.shape[1]), dtype=np.float32) if step is None
               else step.empty((self.n_out, x.shape[1])))
        if step is None:
            kernels.sparse_forward(indptr, indices, values, self.bias, x, out,
                                   kernels.EMPTY_ROWS, np.float32(0), 1.0, np.uint64(0), False)
        else:
            kernels.sparse_forward(indptr, indices, values, self.bias, x, out,
                                   step.pre_buffer(out.shape),
                                   np.float32(step.activation.negative_slope),
                                   step.keep_probability, step.seed, True)
        return out

    def backward(self, delta, need_input_grad=True, input_step=None):
        """As :meth:`Layer.backward`, in one kernel: SDDMM weight gradient, bias gradient and
        the input gradient (through the transpose index), times the derivative of a
        piecewise-linear ``input_step``."""
        if not self.uses_kernels:
            return super().backward(delta, need_input_grad, input_step)
        if not need_input_grad:
            dx = kernels.EMPTY_ROWS
        elif input_step is None:
            dx = np.empty((self.n_in, delta.shape[1]), dtype=np.float32)
        else:
            dx = input_step.empty((self.n_in, delta.shape[1]))
        fused = input_step is not None and isinstance(input_step.activation, PiecewiseLinear)
        mode, pre, slope = kernels.NO_DERIVATIVE, kernels.EMPTY_ROWS, np.float32(0)
        keep, seed = 1.0, np.uint64(0)
        if fused and need_input_grad:
            mode = input_step.activation.derivative_mode
            pre, slope = input_step.pre, np.float32(input_step.activation.negative_slope)
            keep, seed = input_step.keep_probability, input_step.seed
        optimizer, self.update_with = self.update_with, None
        indptr, indices, t_indptr, t_indices, t_perm, values = self.kernel_arrays()
        if optimizer is not None:
            # Armed by the optimiser's last step: the weight update happens here, in the pass
            # that sums the gradients (no gradient array); the optimiser then skips it.
            self.release_gradient()
            grad, rule = kernels.NO_GRADIENT, optimizer.fused_rule()
        else:
            grad, rule = self.gradient_array(), kernels.GRADIENT_ONLY
        kernels.sparse_backward(indptr, indices, t_indptr, t_indices, t_perm, values, delta,
                                self.input, grad, self.bias_grad, dx, mode, pre, slope, keep,
                                seed, _BLOCKS, self.velocity_array(), *rule)
        self.weights_updated = optimizer is not None
        if not need_input_grad:
            self.release_input()
            return None
        dx = dx if fused or input_step is None else input_step.backward(dx, self.input)
        self.release_input()
        return dx


class DenseLayer(KernelProducts, Layer):
    """Fully connected layer: ``weights`` ``(n_in, n_out)``, stored as ``weights_t`` ``(n_out, n_in)``.

    Large layers multiply by BLAS. Small ones (up to :data:`KERNEL_MAX_WEIGHTS` weights, e.g.
    a sparse model's 1000 -> 10 classifier) run the sparse kernels over a full CSR index:
    on one BLAS thread their forward + backward cost 0.40 ms per batch of 128, against
    0.18 ms with the kernels, which also fuse the previous activation's derivative.
    """

    def __init__(self, n_in, n_out, rng, init="actual_fan_in"):
        super().__init__(n_in, n_out)
        limit = he_uniform_limits(np.full(n_out, n_in), init, n_in).astype(np.float32)
        #: the stored weights, output-major ``(n_out, n_in)`` float32 (``weights`` is its transpose)
        self.weights_t = (rng.uniform(-1, 1, size=(n_out, n_in)).astype(np.float32)
                          * limit[:, None])
        self.weight_grad = np.zeros_like(self.weights_t)
        self.weight_velocity = np.zeros_like(self.weights_t)
        self.uses_kernels = self.weights_t.size <= KERNEL_MAX_WEIGHTS
        self._full_index = None

    @property
    def weights(self):
        """:math:`W` ``(n_in, n_out)``: a view of ``weights_t`` (writing to it writes the layer)."""
        return self.weights_t.T

    def kernel_arrays(self):
        if self._full_index is None:
            # Every position, row by row: the CSR of W^T that a dense matrix already is.
            n_in, n_out = self.n_in, self.n_out
            indptr = np.arange(0, (n_out + 1) * n_in, n_in, dtype=np.int32)
            indices = np.tile(np.arange(n_in, dtype=np.int32), n_out)
            t_indptr, t_perm = kernels.group_by_column(indices, n_in, indptr[:1])
            self._full_index = (indptr, indices, t_indptr, (t_perm // n_in).astype(np.int32),
                                t_perm)
        return (*self._full_index, self.weights_t.reshape(-1))

    def gradient_array(self):
        return self.weight_grad.reshape(-1)

    @property
    def nnz(self):
        return self.weights_t.size

    def weight_values(self):
        return self.weights_t

    def linear(self, x):
        z = self.weights_t @ x
        z += self.bias[:, None]
        return z

    def store_gradients(self, delta):
        np.matmul(delta, self.input.T, out=self.weight_grad)
        np.sum(delta, axis=1, out=self.bias_grad)

    def input_gradient(self, delta, out=None):
        return np.matmul(self.weights_t.T, delta, out=out)

    def to_dense(self):
        return self.weights_t.T.copy()

    def to_scipy(self):
        return sp.csr_matrix(self.weights_t.T)

    def parameter_bytes(self):
        return self.weights_t.nbytes + self.bias.nbytes

    def state_arrays(self):
        return {**super().state_arrays(), "weights": self.weights_t,
                "velocity": self.weight_velocity}

    @classmethod
    def state_spec(cls, n_in, n_out):
        return {**super().state_spec(n_in, n_out), "weights": ((n_out, n_in), F32),
                "velocity": ((n_out, n_in), F32)}

    def restore_checked(self, arrays):
        super().restore_checked(arrays)
        self.weights_t[...] = arrays["weights"]
        self.weight_velocity[...] = arrays["velocity"]


class SparseLayer(KernelProducts, Layer):
    """Truly sparse layer: CSR of :math:`W^\\top` (rows = outputs), float32 values, int32 indices.

    A second index over the same connections, grouped by input neuron (``t_indptr``,
    ``t_indices`` = output neuron, ``t_perm`` = position in ``data``), gives the input gradient
    without races or a transposed copy of the values.

    Per connection it keeps 20 bytes (:meth:`storage`): ``data`` and ``weight_velocity``
    (float32, interleaved in one ``(nnz, 2)`` array, see :attr:`data`), ``indices``,
    ``t_indices`` (int32), ``t_perm`` (int32, int64 from :data:`INT64_CONNECTIONS`). The
    gradient ``weight_grad`` exists only when something needs it between backward and update:
    in training the optimiser applies the update inside the backward pass
    (:attr:`fuses_update`), and ``weight_grad`` is None from the second step on.
    """

    sparse = True

    @property
    def fuses_update(self):
        # Growth by gradient or momentum reads the gradients before the update: no fusion.
        return not self.keeps_delta

    def __init__(self, n_in, n_out, density, rng, init="actual_fan_in"):
        super().__init__(n_in, n_out)
        self.init = init
        positions = erdos_renyi_positions(n_in, n_out, density, rng)
        self.set_connections(positions, np.zeros(positions.size, dtype=np.float32))
        self.data[:] = self.sample_weights(self.row_of_each(), rng)

    # -- topology ---------------------------------------------------------------------------
    def set_connections(self, positions, values, velocity=None):
        """Replace the topology with sorted distinct linear ``positions`` (``out * n_in + in``)."""
        weights = np.zeros((np.size(positions), 2), dtype=np.float32)
        weights[:, 0] = values
        if velocity is not None:
            weights[:, 1] = velocity
        self._set_topology(positions, weights)

    def _set_topology(self, positions, weights):
        """:meth:`set_connections` with the ``(nnz, 2)`` array of values and velocities given."""
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        self.t_indptr = self.t_indices = self.t_perm = None  # the old index goes first
        self.indices = np.empty(positions.size, dtype=np.int32)
        self.indptr = np.zeros(self.n_out + 1, dtype=index_dtype(positions.size))
        if positions.size and not (0 <= positions[0] and positions[-1] < self.n_in * self.n_out):
            raise ValueError(f"positions must be in 0..{self.n_in * self.n_out - 1} for a "
                             f"{self.n_in} -> {self.n_out} layer; got {positions[0]} .. "
                             f"{positions[-1]}")
        kernels.split_positions(positions, self.n_in, self.indptr, self.indices)
        self._weights = weights
        # A fused layer needs no gradient array; one that stores gradients gets it when first
        # used (:attr:`weight_grad`).
        self._weight_grad = None
        self._build_transpose_index()

    @property
    def data(self):
        """The weight values ``(nnz,)`` float32, in CSR order: a strided view (writing to it
        writes the layer). Each value sits next to its velocity (:attr:`weight_velocity`): the
        backward pass reaches connections in transpose order, scattered, and updates value and
        velocity together, so one cache line serves both (backward 10-16 % faster at 333,333 to
        3.3 M neurons, ``benchmarks/kernel_layouts.py``)."""
        return self._weights[:, 0]

    @property
    def weight_velocity(self):
        """The momentum of each weight ``(nnz,)`` float32, aligned with :attr:`data` (a view)."""
        return self._weights[:, 1]

    @property
    def weight_grad(self):
        """The weight gradient aligned with ``data`` (float32), allocated (zeros) on first use:
        a layer whose optimiser fuses the update never holds one."""
        if self._weight_grad is None or self._weight_grad.size != self.nnz:
            self._weight_grad = np.zeros(self.nnz, dtype=np.float32)
        return self._weight_grad

    @weight_grad.setter
    def weight_grad(self, value):
        self._weight_grad = None if value is None else np.asarray(value, dtype=np.float32)

    def gradient_array(self):
        return self.weight_grad

    def release_gradient(self):
        self._weight_grad = None

    def parameters(self):
        # After a fused backward the weights are done: no gradient array is made for them.
        grad = None if self.weights_updated else self.weight_grad
        return [(self.data, grad, self.weight_velocity),
                (self.bias, self.bias_grad, self.bias_velocity)]

    @staticmethod
    def storage(n_in, n_out, connections, gradient=False):
        """What a layer ``n_in -> n_out`` with ``connections`` connections stores, before use.

        Returns
        -------
        list of ``(name, dtype, count, per)``: the attribute, its dtype, its length, and what
        it scales with (``"connection"``, ``"output"`` or ``"input"`` neuron). ``gradient``
        adds ``weight_grad`` (kept by layers that do not fuse the update, or before the
        first optimiser step). :meth:`stored_bytes` of a built layer is the sum.
        """
        index = np.dtype(index_dtype(connections))
        f32, i32 = np.dtype(np.float32), np.dtype(np.int32)
        rows = [("data", f32, connections, "connection"),
                ("weight_velocity", f32, connections, "connection"),
                ("indices", i32, connections, "connection"),
                ("t_indices", i32, connections, "connection"),
                ("t_perm", index, connections, "connection"),
                ("indptr", index, n_out + 1, "output"),
                ("bias", f32, n_out, "output"), ("bias_grad", f32, n_out, "output"),
                ("bias_velocity", f32, n_out, "output"),
                ("t_indptr", index, n_in + 1, "input")]
        if gradient:
            rows.insert(2, ("weight_grad", f32, connections, "connection"))
        return rows

    def stored_bytes(self):
        """Bytes of every array the layer holds now (the sum of :meth:`storage`'s rows)."""
        held = {"weight_grad": self._weight_grad}
        return sum(held.get(name, getattr(self, name, None)).nbytes for name, *_ in
                   self.storage(self.n_in, self.n_out, self.nnz, self._weight_grad is not None))

    def _build_transpose_index(self):
        # Counting sort by input neuron (O(nnz)); output neurons stay ascending in each group.
        self.t_indptr, self.t_indices, self.t_perm = kernels.transpose_index(
            self.indptr, self.indices, self.n_in)

    def replace_connections(self, keep, new_positions, new_values=None, rng=None, init=None):
        """Drop the connections where ``keep`` is False and add ``new_positions``.

        Kept connections keep their value and momentum; new ones get ``new_values`` (in the
        order of ``new_positions``; when ``None``, weights drawn from the init rule with
        ``rng``; ``init`` overrides the layer's init rule for them) and zero momentum. ``new_positions`` must be distinct and empty after the
        drop. The number of connections changes by ``len(new_positions) - (~keep).sum()``.
        """
        new_positions = np.asarray(new_positions, dtype=np.int64)
        order = np.argsort(new_positions)
        new_sorted = new_positions[order]
        kept = self.positions()[keep]
        # Merge two sorted lists in O(n): where each new position lands among the kept ones.
        total = kept.size + new_sorted.size
        is_new = np.zeros(total, dtype=bool)
        is_new[np.searchsorted(kept, new_sorted) + np.arange(new_sorted.size)] = True
        positions = np.empty(total, dtype=np.int64)
        positions[~is_new] = kept
        positions[is_new] = new_sorted
        weights = np.zeros((total, 2), dtype=np.float32)
        # A column at a time through 1-D views, masks as masks: a temporary of 4 bytes per
        # connection (``w[mask]`` of the pairs takes 8; ``w[mask, 0]`` makes an int64 index).
        kept_at = ~is_new
        weights[:, 0][kept_at] = self.data[keep]
        weights[:, 1][kept_at] = self.weight_velocity[keep]
        self._set_topology(positions, weights)
        if new_values is None:
            self.data[is_new] = self.sample_weights(self.row_of_each()[is_new], rng, init)
        else:
            self.data[is_new] = np.asarray(new_values, dtype=np.float32)[order]

    def positions(self):
        """Sorted linear indices ``out * n_in + in`` of the existing connections (int64)."""
        out = np.empty(self.indices.size, dtype=np.int64)
        kernels.linear_positions(self.indptr, self.indices, self.n_in, out)
        return out

    def row_of_each(self):
        """Output neuron of each stored connection, aligned with ``data``."""
        return np.repeat(np.arange(self.n_out, dtype=np.int32), np.diff(self.indptr))

    def in_degrees(self):
        """Number of incoming connections of each output neuron, ``(n_out,)``."""
        return np.diff(self.indptr)

    def out_degrees(self):
        """Number of outgoing connections of each input neuron, ``(n_in,)``."""
        return np.diff(self.t_indptr)

    def sample_weights(self, rows, rng, init=None):
        """New weights for connections ending at output neurons ``rows``, from the init rule
        (``init``: ``actual_fan_in`` or ``dense_fan_in`` instead of the layer's own)."""
        limits = he_uniform_limits(self.in_degrees()[rows], self.init if init is None else init,
                                   self.n_in)
        return (rng.uniform(-1, 1, size=rows.size) * limits).astype(np.float32)

    def empty_positions(self, count, rng, exclude=None):
        """``count`` random empty positions (linear), excluding ``exclude`` too if given."""
        occupied = self.positions()
        if exclude is not None and exclude.size:
            occupied = np.union1d(occupied, exclude)
        return sample_empty_positions(self.n_out, self.n_in, count, rng, occupied)

    @property
    def nnz(self):
        return self._weights.shape[0]

    def weight_values(self):
        return self.data

    # -- products ---------------------------------------------------------------------------
    def kernel_arrays(self):
        return (self.indptr, self.indices, self.t_indptr, self.t_indices, self.t_perm,
                self.data)

    def linear(self, x):
        return self.forward(x)

    def to_scipy(self):
        wt = sp.csr_matrix((self.data.copy(), self.indices.copy(), self.indptr.copy()),
                           shape=(self.n_out, self.n_in))
        return wt.T.tocsr()

    def to_dense(self):
        """Dense ``(n_in, n_out)`` weights, for tests and tiny demos only."""
        dense = np.zeros((self.n_in, self.n_out), dtype=np.float32)
        dense[self.indices, self.row_of_each()] = self.data
        return dense

    def parameter_bytes(self):
        return (self.data.nbytes + self.indices.nbytes + self.indptr.nbytes + self.bias.nbytes)

    def state_arrays(self):
        return {**super().state_arrays(), "indptr": self.indptr, "indices": self.indices,
                "data": self.data, "velocity": self.weight_velocity}

    @classmethod
    def state_spec(cls, n_in, n_out):
        index = (np.dtype(np.int32), np.dtype(np.int64))
        return {**super().state_spec(n_in, n_out), "indptr": ((n_out + 1,), index),
                "indices": (("nnz",), (np.dtype(np.int32),)), "data": (("nnz",), F32),
                "velocity": (("nnz",), F32)}

    @classmethod
    def check_state(cls, arrays, n_in, n_out, prefix=""):
        """As :meth:`Layer.check_state`, and the CSR index: ``indptr`` starts at 0, never
        decreases and ends at the number of connections; every index is in ``0..n_in-1`` and
        the positions are strictly increasing (sorted within each row, no duplicate)."""
        super().check_state(arrays, n_in, n_out, prefix)
        indptr, indices = arrays["indptr"], arrays["indices"]
        nnz = indices.size
        if nnz > n_in * n_out:
            raise ValueError(f"{prefix}indices holds {nnz} connections, more than the "
                             f"{n_in} x {n_out} = {n_in * n_out} positions of the layer")
        if indptr[0] != 0:
            raise ValueError(f"{prefix}indptr[0] is {indptr[0]}; a CSR index starts at 0")
        counts = np.diff(indptr.astype(np.int64))
        if (counts < 0).any():
            row = int(np.flatnonzero(counts < 0)[0])
            raise ValueError(f"{prefix}indptr decreases at row {row} ({indptr[row]} -> "
                             f"{indptr[row + 1]}); it must be non-decreasing")
        if indptr[-1] != nnz:
            raise ValueError(f"{prefix}indptr[-1] is {indptr[-1]}, but there are {nnz} "
                             f"connections (the length of indices, data and velocity)")
        if nnz == 0:
            return
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= n_in:
            bad = int(np.flatnonzero((indices < 0) | (indices >= n_in))[0])
            raise ValueError(f"{prefix}indices must be in 0..{n_in - 1} (n_in = {n_in}); got "
                             f"{indices[bad]} at position {bad} (values in {low}..{high})")
        rows = np.repeat(np.arange(n_out, dtype=np.int64), counts)
        steps = np.diff(rows * n_in + indices)
        if (steps <= 0).any():
            k = int(np.flatnonzero(steps <= 0)[0])
            what = "a duplicate connection" if steps[k] == 0 else "unsorted indices"
            raise ValueError(f"{prefix}indices has {what} in row {rows[k]} (input "
                             f"{indices[k]} then {indices[k + 1]} at positions {k}, {k + 1}); "
                             f"each row's indices must be strictly increasing")

    def restore_checked(self, arrays):
        super().restore_checked(arrays)
        rows = np.repeat(np.arange(self.n_out, dtype=np.int64), np.diff(arrays["indptr"]))
        self.set_connections(rows * self.n_in + arrays["indices"], arrays["data"],
                             arrays["velocity"])
