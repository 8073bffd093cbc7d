"""What a model will hold, worked out from its hyper-parameters before anything is allocated.

:func:`plan` gives each layer's kind (dense, sparse, DST) and number of connections for a
model and its data shape; :func:`check_plan` refuses, before the build allocates a byte:

* a layer with **no connection** (its output would not depend on its input: the network
  trains to chance level without a word), naming the layer, its shape, ε (or the density),
  the expected number of connections and the smallest ε that gives one; a layer with fewer
  connections than output neurons is **warned** about (some neurons are then certainly
  cut off, but the network can still learn);
* a width above ``2**31 - 1`` (the sparse index is int32);
* a model whose **memory** estimate (weights, indices, momentum, gradients, the transpose
  index, the temporaries of building and rewiring, activations at the batch size) exceeds
  the memory available, with the figure.

The estimate is per connection and per weight. A sparse layer whose optimiser step is fused
into its backward pass (SET, FixProb, DSR with decoupled weight decay) keeps what
:meth:`SparseLayer.storage <setcourse.nn.layers.SparseLayer.storage>` lists (20 bytes per
connection); building or rewiring a layer needs temporaries on top, one layer at a time, so
the largest sparse layer carries :data:`FUSED_TEMPORARY_BYTES` per connection more (measured
peak above the kept layer: 28 when built, 40 when SET rewires it, 40 M connections). Other
sparse layers keep the measured all-in figure :data:`SPARSE_BYTES` each (RigL's and Sparse
Momentum's rewiring happens during training, beside the activations): a SET layer peaked at
88-89 bytes per connection before the fusion, RigL at 103, Sparse Momentum at 114 plus its
dense buffer, a dense layer at 13.5 bytes per weight, DST at 48. It is an estimate
("about"), meant to stop 164 GiB requests, not to budget the last megabyte.
"""
import os
import sys
import warnings
from dataclasses import dataclass

from .nn.sparsity import layer_densities, n_connections

#: widths the int32 sparse index can address
MAX_WIDTH = 2**31 - 1
#: peak bytes per connection of a sparse layer (indices, values, momentum, gradient, transpose
#: index, and the temporaries of sampling and rewiring)
SPARSE_BYTES = 96
#: temporaries of building or SET-rewiring one fused sparse layer, bytes per connection of the
#: largest one (measured peak above the kept arrays, 40 M connections: 28 built, 40 rewired)
FUSED_TEMPORARY_BYTES = 44
#: peak bytes per weight of a dense layer (weights, momentum, gradient, the float64 draw)
DENSE_BYTES = 16
#: peak bytes per weight of a DST layer (dense weights, momentum, gradient, mask, masked copy,
#: the estimator's temporaries)
DST_BYTES = 48
#: bytes per dense-matrix entry Sparse Momentum adds for each sparse layer (its momentum
#: buffer and the temporaries that rank it)
SPARSE_MOMENTUM_DENSE_BYTES = 8
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
    bytes: int = 0
    #: the part of ``bytes`` needed only while the layer is built or rewired (never beside
    #: a training step's activations: see :func:`check_memory`)
    temporary: int = 0


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


def plan(model, n_features, n_classes, strategy=None):
    """The :class:`LayerPlan` of every layer of ``model`` (an MLP) for data of ``n_features``
    features and ``n_classes`` classes, each with its memory (weights and their state; with
    fused layers the largest sparse one also carries the build/rewiring temporaries)."""
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
    plans = []
    for index, ((n_in, n_out), p) in enumerate(zip(shapes, densities)):
        kind = layer_kind(strategy, p)
        count = n_in * n_out if kind != "sparse" else n_connections(p, n_in, n_out)
        if kind == "sparse" and fused:
            size = sum(dtype.itemsize * length for _, dtype, length, _ in
                       SparseLayer.storage(n_in, n_out, count))
        else:
            size = {"dense": DENSE_BYTES, "dst": DST_BYTES, "sparse": SPARSE_BYTES}[kind] * count
        if kind == "sparse" and isinstance(strategy, SparseMomentum):
            size += SPARSE_MOMENTUM_DENSE_BYTES * n_in * n_out
        plans.append(LayerPlan(index, kind, n_in, n_out, p, count, size))
    sparse = [p for p in plans if p.kind == "sparse"]
    if fused and sparse:
        largest = max(sparse, key=lambda p: p.connections)
        largest.temporary = FUSED_TEMPORARY_BYTES * largest.connections
        largest.bytes += largest.temporary
    return plans


def activation_bytes(plans, batch_size, keeps_pre=True):
    """Activations: a training batch of ``batch_size`` (the engine's rule,
    :func:`~setcourse.nn.network.training_activation_bytes`, with the pre-activations of leaky
    activations unless ``keeps_pre`` is False) or an evaluation chunk (the outputs, in chunks
    of at most :func:`~setcourse.nn.network.evaluation_chunk` samples), whichever is larger;
    float32. (The evaluation chunk's copy of the input is not counted: it is at most as large
    as the data the caller already holds.)"""
    from .nn.network import evaluation_chunk, training_activation_bytes
    sizes = [plans[0].n_in] + [p.n_out for p in plans]
    outputs = sum(sizes[1:])
    chunk = evaluation_chunk(sizes, EVAL_CHUNK)
    if chunk < EVAL_CHUNK:  # chunked: one layer's input and output at a time
        outputs = max(a + b for a, b in zip(sizes[:-1], sizes[1:]))
    return max(training_activation_bytes(sizes, batch_size, keeps_pre), 4 * chunk * outputs)


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
    check_memory(plans, activation_bytes(plans, batch, keeps_pre), extra_bytes, what, batch)
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


def warn_caller(message):
    """A UserWarning pointing at the first caller outside ``setcourse``, at every call (its
    own registry: Python's "once per location" memory would hide it for the next model)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("setcourse"):
        frame = frame.f_back
    warnings.warn_explicit(message, UserWarning, frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"), registry={})


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


def check_memory(plans, activations=0, extra_bytes=0, what=None, batch_size=None):
    """ValueError with the figures when the layers' memory, ``activations`` and
    ``extra_bytes`` (arrays read from a file) together exceed :func:`memory_limit`.

    The layers' temporaries (building, rewiring) and the activations are never needed at once:
    the larger of the two counts."""
    temporary = max((p.temporary for p in plans), default=0)
    needed = (sum(p.bytes - p.temporary for p in plans) + max(temporary, activations)
              + extra_bytes)
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
