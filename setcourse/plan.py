"""What a model will hold, worked out from its hyper-parameters before anything is allocated.

:func:`plan` gives each layer's kind (dense, sparse, DST), number of connections and memory
for a model and its data shape; :func:`check_plan` refuses, before the build allocates a byte:

* a layer with **no connection** (its output would not depend on its input: the network
  trains to chance level without a word), naming the layer, its shape, ε (or the density),
  the expected number of connections and the smallest ε that gives one; a layer with fewer
  connections than output neurons is **warned** about (some neurons are then certainly
  cut off, but the network can still learn);
* a width above ``2**31 - 1`` (the sparse index is int32);
* a model whose **memory** estimate exceeds the memory available, with the figure.

The estimate has three parts per layer (:class:`LayerPlan`):

``kept``
    the arrays the layer holds for the whole run. A sparse layer's are what
    :meth:`SparseLayer.storage <setcourse.nn.layers.SparseLayer.storage>` lists: 20 bytes per
    connection, 24 with ``weight_grad`` for the layers that cannot fuse the optimiser step into
    their backward pass (``weight_decay_mode="l2"``, RigL, Sparse Momentum), plus
    Sparse Momentum's dense ``n_out x n_in`` float32 momentum buffer. A dense layer keeps
    12 bytes per weight (24 when small enough to run the sparse kernels over a full index),
    a DST layer 17 (dense weights, gradient, momentum, the mask and the masked copy).
``temporary``
    what building or rewiring one layer needs on top, outside a training step, carried by
    the layer that needs the most (building and SET's and DSR's rewiring run one layer at a
    time, after the step's activations are gone).
``step``
    what some training steps need beside their activations: RigL's rewiring (inside the
    step, where the gradient is fresh), Sparse Momentum's (beside the kept inputs of the
    epoch's last batch), DST's backward pass (dense temporaries). Fused layers keep no
    gradient in any step (the training loop arms their fused update before each step).

:func:`needed_bytes` adds them up: the kept arrays, plus the larger of the largest
``temporary`` and the training activations with every ``step`` part (or an evaluation
chunk). The temporaries are measured with ``tracemalloc`` (layers of 200 k and 800 k
connections, densities 0.01-0.3; the same per connection at both sizes) and written as bytes
per connection of the layer plus bytes per connection regrown in one rewiring
(each strategy's ``REWIRE_BYTES`` and ``regrown_bound``, which
:meth:`~setcourse.evolution.base.EvolutionStrategy.rewiring_bytes` combines), so that a larger
``zeta`` or drop fraction costs more; they are rounded
up to bound every measurement. ``tests/analysis/test_memory.py`` compares the whole figure
with the measured peak of a build and a few training steps of every strategy. It is an
estimate ("about"), meant to stop 164 GiB requests, not to budget the last megabyte: DSR
and Sparse Momentum move connections between layers, and a layer that has grown needs
proportionally more to rewire (the kept total does not change); the inputs below
``RELEASE_INPUT_BYTES`` that layers keep until the next forward pass are not counted beside
the rewirings at epoch ends.
"""
import os
from dataclasses import dataclass

import numpy as np

from ._validation import warn_caller
from .nn.sparsity import layer_densities, n_connections

#: widths the int32 sparse index can address
MAX_WIDTH = 2**31 - 1
#: bytes per connection that building a sparse layer needs above its kept arrays (drawing and
#: sorting the positions, drawing the weights); measured 32.0 at every size and density tried
BUILD_TEMPORARY_BYTES = 32
#: bytes per dense-matrix entry Sparse Momentum keeps for each sparse layer: its float32
#: momentum buffer (ranking it runs in chunks as large as the layer: in its REWIRE_BYTES)
SPARSE_MOMENTUM_DENSE_BYTES = 4
#: bytes per weight a DST layer keeps: dense weights, gradient and momentum (float32), the
#: mask (bool) and the masked weights (float32) of the last forward pass
DST_WEIGHT_BYTES = 17
#: bytes per output neuron of a DST layer: bias and threshold, their gradients and momenta
DST_NEURON_BYTES = 24
#: bytes per weight a DST backward pass needs above the kept arrays, one layer at a time (the
#: dense gradient, |W|, the estimator's derivative and its temporaries; measured 29.0; the
#: forward's mask temporaries, 5, come at another moment)
DST_BACKWARD_BYTES = 29
#: samples per chunk of ``decision_function``
EVAL_CHUNK = 2048
#: the environment variable that sets the memory limit in bytes (``8G``, ``500M`` also read)
LIMIT_VARIABLE = "SETCOURSE_MAX_MEMORY"
#: used when the available memory cannot be read
FALLBACK_LIMIT = 64 * 2**30


@dataclass
class LayerPlan:
    index: int
    kind: str  # "dense", "sparse" or "dst"
    n_in: int
    n_out: int
    density: float
    connections: int  # weights of a dense/DST layer, initial connections of a sparse one
    #: the layer's peak: :attr:`kept` + :attr:`temporary` + :attr:`step`
    bytes: int = 0
    #: the part of ``bytes`` needed only while the layer is built or rewired outside a training
    #: step (never beside a step's activations: see :func:`needed_bytes`)
    temporary: int = 0
    #: the part of ``bytes`` needed in some training steps beside their activations
    step: int = 0
    #: the layer keeps its input and backward delta through the step (RigL, Sparse Momentum)
    keeps_delta: bool = False

    @property
    def kept(self):
        """Bytes of the arrays the layer holds for the whole run."""
        return self.bytes - self.temporary - self.step


def layer_kind(strategy, density):
    """What ``make_layer`` builds: ``"dense"``, ``"sparse"`` or ``"dst"``."""
    from .evolution.dst import DST
    if strategy is None:
        return "dense"
    if isinstance(strategy, DST):
        return "dst"
    return "dense" if density >= 1 else "sparse"


def fuses_update(model, strategy):
    """Whether the sparse layers of ``model`` apply the optimiser step in their backward pass
    (and keep no gradient): plain sparse layers with decoupled weight decay."""
    from .evolution.dst import DST
    layer = getattr(strategy, "sparse_layer", None)
    return (strategy is not None and not isinstance(strategy, DST) and layer is not None
            and not layer.keeps_delta and model.weight_decay_mode == "decoupled")


def dense_storage(n_in, n_out):
    """What a :class:`~setcourse.nn.layers.DenseLayer` ``n_in -> n_out`` keeps, as the rows of
    :meth:`SparseLayer.storage <setcourse.nn.layers.SparseLayer.storage>`: weights, gradient and
    momentum, the bias arrays, and the full CSR index a layer small enough to run the sparse
    kernels builds at its first forward pass (``KERNEL_MAX_WEIGHTS``)."""
    from .nn.layers import KERNEL_MAX_WEIGHTS
    f32, i32 = np.dtype(np.float32), np.dtype(np.int32)
    weights = n_in * n_out
    rows = [("weights_t", f32, weights, "weight"), ("weight_grad", f32, weights, "weight"),
            ("weight_velocity", f32, weights, "weight"), ("bias", f32, n_out, "output"),
            ("bias_grad", f32, n_out, "output"), ("bias_velocity", f32, n_out, "output")]
    if weights <= KERNEL_MAX_WEIGHTS:
        rows += [("indptr", i32, n_out + 1, "output"), ("indices", i32, weights, "weight"),
                 ("t_indptr", i32, n_in + 1, "input"), ("t_indices", i32, weights, "weight"),
                 ("t_perm", i32, weights, "weight")]
    return rows


def _stored(rows):
    """Bytes of the arrays listed by ``rows`` (the format of ``SparseLayer.storage``)."""
    return sum(dtype.itemsize * count for _, dtype, count, _ in rows)


def plan(model, n_features, n_classes, strategy=None):
    """The :class:`LayerPlan` of every layer of ``model`` (an MLP) for data of ``n_features``
    features and ``n_classes`` classes, each with its memory: the arrays it keeps, and (carried
    by the layer that needs the most) the temporaries of building or rewiring and of the
    training steps (see the module's docstring). A strategy other than the library's is
    costed as SET with its ``zeta`` (0.3 without one), inside the step if its sparse layers
    keep their deltas."""
    from .evolution import strategy_for
    from .evolution.sparse_momentum import SparseMomentum
    from .nn.layers import SparseLayer
    if strategy is None:
        strategy = strategy_for(model.topology, model.zeta, model.regrow_init)
    hidden = model.validate_params()
    sizes = [int(n_features), *hidden, int(n_classes)]
    shapes = list(zip(sizes[:-1], sizes[1:]))
    if min(sizes) < 1:
        check_widths(shapes)  # says which layer has no inputs or outputs
    densities = layer_densities(shapes, model.allocation, model.epsilon, model.density)
    fused = fuses_update(model, strategy)
    # the sparse layer type the strategy builds describes its own arrays
    layer_type = getattr(strategy, "sparse_layer", None) or SparseLayer
    plans = []
    for index, ((n_in, n_out), p) in enumerate(zip(shapes, densities)):
        kind = layer_kind(strategy, p)
        count = n_in * n_out if kind != "sparse" else n_connections(p, n_in, n_out)
        layer = LayerPlan(index, kind, n_in, n_out, p, count)
        if kind == "sparse":
            kept = _stored(layer_type.storage(n_in, n_out, count, gradient=not fused))
            if isinstance(strategy, SparseMomentum):
                kept += SPARSE_MOMENTUM_DENSE_BYTES * n_in * n_out
            layer.keeps_delta = bool(layer_type.keeps_delta)
        elif kind == "dst":
            kept = DST_WEIGHT_BYTES * count + DST_NEURON_BYTES * n_out
        else:
            kept = _stored(dense_storage(n_in, n_out))
        layer.bytes = kept + layer.step
        plans.append(layer)
    # One layer at a time is built, rewired or (DST) back-propagated: the one that needs the
    # most carries those temporaries, outside the step or beside it.
    outside, beside = {}, {}
    sparse = [p for p in plans if p.kind == "sparse"]
    total = sum(p.connections for p in sparse)
    for p in sparse:
        outside[p.index] = BUILD_TEMPORARY_BYTES * p.connections
        size = 0 if strategy is None else strategy.rewiring_bytes(
            p.n_in, p.n_out, p.connections, total, p.index == len(plans) - 1)
        if strategy is not None and strategy.rewires_in_step:
            beside[p.index] = size
        else:
            outside[p.index] = max(outside[p.index], size)
    for p in plans:
        if p.kind == "dst":
            beside[p.index] = DST_BACKWARD_BYTES * p.connections
    for carried, field in ((outside, "temporary"), (beside, "step")):
        if carried:
            index = max(carried, key=carried.get)
            setattr(plans[index], field, getattr(plans[index], field) + carried[index])
            plans[index].bytes += carried[index]
    return plans


def training_activations(plans, batch_size, keeps_pre=True):
    """Peak bytes of the activations of a training step: the engine's rule
    (:func:`~setcourse.nn.network.training_activation_bytes`), and for layers that keep their
    input and delta through the step (:attr:`LayerPlan.keeps_delta`: RigL's and Sparse
    Momentum's) the same walk with those inputs never freed and each delta held from its
    layer's backward pass on."""
    from .nn.layers import RELEASE_INPUT_BYTES
    from .nn.network import ACTIVATION_BYTES, training_activation_bytes
    sizes = [plans[0].n_in] + [p.n_out for p in plans]
    if not any(p.keeps_delta for p in plans):
        return training_activation_bytes(sizes, batch_size, keeps_pre)
    per_neuron = ACTIVATION_BYTES * int(batch_size)
    alive = sizes[:-1]  # each layer's input, kept by the forward pass
    best = sum(alive) + sizes[-1]
    deltas = 0
    for layer in range(len(plans) - 1, -1, -1):  # its delta, its input gradient (none for 0)
        best = max(best, sum(alive) + deltas + sizes[layer + 1] + (sizes[layer] if layer else 0))
        if plans[layer].keeps_delta:
            deltas += sizes[layer + 1]
        elif per_neuron * sizes[layer] >= RELEASE_INPUT_BYTES:
            alive[layer] = 0
    if keeps_pre:
        best += sum(sizes[1:-1])
    return per_neuron * best


def evaluation_activations(plans):
    """Activations of an evaluation chunk (the outputs, in chunks of at most
    :func:`~setcourse.nn.network.evaluation_chunk` samples), float32. (The chunk's copy of
    the input is not counted: it is at most as large as the data the caller already holds.)"""
    from .nn.network import evaluation_chunk
    sizes = [plans[0].n_in] + [p.n_out for p in plans]
    outputs = sum(sizes[1:])
    chunk = evaluation_chunk(sizes, EVAL_CHUNK)
    if chunk < EVAL_CHUNK:  # chunked: one layer's input and output at a time
        outputs = max(a + b for a, b in zip(sizes[:-1], sizes[1:]))
    return 4 * chunk * outputs


def activation_bytes(plans, batch_size, keeps_pre=True):
    """Activations: a training batch of ``batch_size`` (:func:`training_activations`, with the
    pre-activations of leaky activations unless ``keeps_pre`` is False) or an evaluation
    chunk (:func:`evaluation_activations`), whichever is larger; float32."""
    return max(training_activations(plans, batch_size, keeps_pre),
               evaluation_activations(plans))


def needed_bytes(plans, activations=0, extra_bytes=0, evaluation=0):
    """The estimate of the peak: every layer's kept arrays, plus the largest of (the largest
    layer :attr:`~LayerPlan.temporary`), (the training ``activations`` with every layer's
    :attr:`~LayerPlan.step` part) and (the ``evaluation`` activations), plus ``extra_bytes``.

    Building and rewiring outside a step never meet a step's activations, nor does an
    evaluation a step's temporaries."""
    temporary = max((p.temporary for p in plans), default=0)
    step = sum(p.step for p in plans)
    return (sum(p.kept for p in plans) + max(temporary, activations + step, evaluation)
            + extra_bytes)


def planned_batch(batch_size, n_samples=None):
    """The batch the estimate assumes: ``min(batch_size, n_samples)``; without ``n_samples``
    (a build or load before any data) at most an evaluation chunk, so that a
    ``batch_size=10**6`` meaning "the whole set" is not taken at its word."""
    return min(batch_size, n_samples if n_samples is not None else EVAL_CHUNK)


def check_widths(shapes):
    for index, (n_in, n_out) in enumerate(shapes):
        for what, width in (("inputs", n_in), ("outputs", n_out)):
            if width < 1:
                raise ValueError(f"layer {index} ({n_in} -> {n_out}) has no {what}")
            if width > MAX_WIDTH:
                raise ValueError(f"layer {index} ({n_in} -> {n_out}) has {width} {what}; at "
                                 f"most {MAX_WIDTH} are supported (the sparse index is int32)")


def check_plan(model, plans, extra_bytes=0, what=None, n_samples=None):
    """Refuse a layer without connections or a model too large for memory (ValueError with
    the numbers); warn about layers with fewer connections than output neurons.
    ``n_samples``: the training set's size when known (see :func:`planned_batch`)."""
    check_connections(model, plans)
    batch = planned_batch(model.batch_size, n_samples)
    keeps_pre = model.activation not in ("relu", "sigmoid", "tanh")
    check_memory(plans, training_activations(plans, batch, keeps_pre), extra_bytes, what, batch,
                 evaluation=evaluation_activations(plans))
    check_widths([(p.n_in, p.n_out) for p in plans])


def _epsilon_advice(model, p):
    """How ``epsilon`` (or ``density``) would give layer ``p`` one connection, and one per
    output neuron on average."""
    total = p.n_in + p.n_out
    if model.allocation == "erdos_renyi":
        return (f"epsilon={model.epsilon!r} gives p = epsilon (n_in + n_out) / (n_in n_out) = "
                f"{p.density:.3g}, i.e. {model.epsilon * total:.3g} expected connections; "
                f"epsilon >= {1 / total:.3g} gives at least one, epsilon >= "
                f"{p.n_out / total:.3g} one per output neuron on average (SET uses 20)")
    return (f"allocation={model.allocation!r} with density={model.density!r} gives this layer "
            f"p = {p.density:.3g}, i.e. {p.density * p.n_in * p.n_out:.3g} expected "
            f"connections; a density giving p >= {1 / (p.n_in * p.n_out):.3g} gives at least "
            f"one, p >= {1 / p.n_in:.3g} one per output neuron on average")


def check_connections(model, plans):
    """A sparse layer with 0 connections is refused, one with fewer than ``n_out`` warned.

    Refused, not warned: with no connection the layer's output is its bias whatever the
    input, so the model can only learn the class frequencies (10 % on ten balanced classes),
    and SET, which keeps the number of connections, never repairs it. Fewer connections than
    output neurons leaves some neurons without input, but the rest can learn (and a
    rewiring rule may move connections): a warning.
    """
    for p in plans:
        if p.kind != "sparse":
            continue
        if p.connections == 0:
            raise ValueError(
                f"layer {p.index} ({p.n_in} -> {p.n_out}) would have no connection: "
                f"{_epsilon_advice(model, p)}. A layer without connections makes the output "
                f"independent of the input (training reaches chance level)")
        if p.connections < p.n_out:
            warn_caller(
                f"layer {p.index} ({p.n_in} -> {p.n_out}) has only {p.connections} "
                f"connection(s) for {p.n_out} output neurons, so at least "
                f"{p.n_out - p.connections} of them get no input: {_epsilon_advice(model, p)}")


# -- memory -------------------------------------------------------------------------------
def parse_bytes(text):
    """``"8G"``, ``"500M"``, ``"123456"`` -> bytes (binary units)."""
    text = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    value = float(number) * scale
    if not value > 0:
        raise ValueError
    return int(value)


def _cgroup_available():
    """Memory left under a cgroup v2 limit (containers), or None."""
    try:
        with open("/sys/fs/cgroup/memory.max") as handle:
            limit = handle.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as handle:
            current = int(handle.read().strip())
        return max(int(limit) - current, 0)
    except (OSError, ValueError):
        return None


def memory_limit():
    """``(bytes, where the figure comes from)``: ``SETCOURSE_MAX_MEMORY`` if set, else the
    available memory (psutil; a container's cgroup limit if lower)."""
    setting = os.environ.get(LIMIT_VARIABLE)
    if setting:
        try:
            return parse_bytes(setting), f"{LIMIT_VARIABLE}={setting}"
        except (ValueError, IndexError):
            raise ValueError(f"{LIMIT_VARIABLE} must be a size in bytes such as 8G, 500M or "
                             f"123456; got {setting!r}") from None
    try:
        import psutil
        available, source = int(psutil.virtual_memory().available), "available memory"
    except Exception:  # no psutil, or no /proc: an absolute cap instead
        available, source = FALLBACK_LIMIT, "the default cap (available memory unknown)"
    cgroup = _cgroup_available()
    if cgroup is not None and cgroup < available:
        available, source = cgroup, "memory left under the container's limit"
    return available, source


def format_bytes(n):
    for unit, scale in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20),
                        ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(plans, activations=0, extra_bytes=0, what=None, batch_size=None,
                 evaluation=0):
    """ValueError with the figures when :func:`needed_bytes` (the layers' memory, the training
    ``activations``, the ``evaluation`` chunk's and ``extra_bytes``, arrays read from a file)
    exceeds :func:`memory_limit`.

    The layers' temporaries outside a step (building, rewiring) and the activations are never
    needed at once: the larger of the two counts; the temporaries of a step count beside it."""
    needed = needed_bytes(plans, activations, extra_bytes, evaluation)
    activations = max(activations, evaluation)
    limit, source = memory_limit()
    if needed <= limit:
        return
    largest = max(plans, key=lambda p: p.bytes)
    unit = {"sparse": "connections", "dense": "weights (dense)", "dst": "weights (DST, dense)"}
    parts = [f"layer {largest.index} ({largest.n_in} -> {largest.n_out}), the largest: "
             f"{largest.connections:.3g} {unit[largest.kind]}, about {format_bytes(largest.bytes)}",
             f"activations (batches of {batch_size}, or an evaluation chunk of {EVAL_CHUNK}): "
             f"about {format_bytes(activations)}"]
    if extra_bytes:
        parts.append(f"the arrays read from the file and their copies: {format_bytes(extra_bytes)}")
    raise ValueError(
        f"{what or 'this model'} would need about {format_bytes(needed)} of memory, more than "
        f"the {format_bytes(limit)} of {source} ({'; '.join(parts)}). Use smaller hidden "
        f"layers, a smaller epsilon/density or batch_size (or set {LIMIT_VARIABLE} if the "
        f"estimate is wrong for this machine)")
