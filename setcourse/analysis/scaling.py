r"""How far is one billion neurons? The measured cost curve of SET-MLPs and its extrapolation.

``benchmarks/scale.py --sweep --json PATH`` trains one epoch of 784-h-h-h-10 SET-MLPs
(ε = 20) from 10 thousand to 10 million neurons and stores seconds and bytes; the measured
sweep of this machine ships as ``setcourse/analysis/measured/scale_sweep.json``
(:func:`load_sweep`). This module reads it, fits the cost per connection and sample against the
number of connections (:func:`fit_cost`) and extrapolates memory and epoch time to any number
of neurons on one machine or on ``W`` data-parallel workers (:func:`extrapolate`).

The sweep file (schema 1)
-------------------------
A JSON object; every number is positive and finite unless said otherwise:

``schema`` : int
    1.
``provisional`` : bool
    True for a partial sweep (small widths, or a busy machine); its figures are not final.
``date`` : str
    UTC, ``YYYY-MM-DDTHH:MM:SSZ``. ``command`` : str, the command that measured it.
    ``commit`` : str or null, the code's commit.
``machine`` : object
    ``cpu`` (str), ``cores`` (int), ``ram_bytes`` (int); ``system``, ``python``, ``numpy``,
    ``numba`` (str, informative).
``settings`` : object
    ``architecture`` (str, ``"784-h-h-h-10"``), ``epsilon``, ``zeta``, ``dropout`` (numbers),
    ``batch_size`` (int), ``samples`` (int: samples per epoch unless a row says otherwise),
    ``samples_from`` (str or null: ``"N:S,..."``, widths of at least N neurons trained on S
    samples), ``data`` (str), ``threads`` (int).
``bytes`` : object, the engine's byte model when it was measured
    ``per_connection`` (int: bytes a sparse layer keeps per connection, 20),
    ``per_connection_int64`` (int: the same in a layer of at least 2³¹ connections, 24),
    ``per_connection_arrays`` (object: array name -> bytes per connection),
    ``per_neuron`` (object: ``output`` and ``input`` bytes per neuron of a sparse layer),
    ``per_activation`` (int: bytes per neuron and sample, 4), ``batch_size`` (int).
``rows`` : list of objects, one per width, ascending
    ``neurons`` (int: 784 + 3 h + 10), ``hidden`` (list of 3 ints), ``connections`` (int:
    all weights, the dense classifier's included), ``sparse_connections`` (int),
    ``samples`` (int), ``batch_size`` (int), ``build_seconds``, ``epoch_seconds``,
    ``seconds_forward``, ``seconds_backward``, ``seconds_update`` (>= 0), ``evolution_seconds``
    (one SET step after the epoch; may be null), ``ns_per_connection_sample`` (training
    seconds / (connections x samples), in ns), ``ns_forward``, ``ns_backward`` (the same for
    each pass, the update counted with the backward), ``peak_rss_bytes`` (the process's
    peak, build included), ``train_peak_rss_bytes`` (the epoch's), ``stored_sparse_bytes``
    (what the sparse layers hold after the epoch), ``bytes_per_connection`` (peak RSS /
    connections, all-in).

:func:`load_sweep` checks all of this (keys, types, positive finite numbers) and names the
first field that is wrong.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._validation import check_in_range, check_positive_int
from ..nn.layers import INT64_CONNECTIONS
from ..nn.network import ACTIVATION_BYTES, training_activation_bytes
from ..nn.sparsity import erdos_renyi_density, n_connections

#: the sweep measured on this project's machine
SWEEP_PATH = Path(__file__).resolve().parent / "measured" / "scale_sweep.json"
SCHEMA = 1
N_INPUTS, N_CLASSES, DEPTH = 784, 10, 3
#: bytes per weight of a dense layer in training (weights, gradient, velocity)
DENSE_BYTES = 12

_ROW_NUMBERS = ("build_seconds", "epoch_seconds", "ns_per_connection_sample", "ns_forward",
                "ns_backward", "peak_rss_bytes", "bytes_per_connection")
_ROW_INTS = ("neurons", "connections", "samples", "batch_size")
_ROW_NONNEGATIVE = ("seconds_forward", "seconds_backward", "seconds_update")


# -- reading and checking --------------------------------------------------------------------
def _fail(field, message, value):
    raise ValueError(f"sweep field {field} {message}; got {value!r}")


def _get(obj, key, where):
    if not isinstance(obj, dict):
        _fail(where or "(top level)", "must be a JSON object", type(obj).__name__)
    if key not in obj:
        raise ValueError(f"sweep field {where + '.' if where else ''}{key} is missing")
    return obj[key]


def _positive(obj, key, where, integer=False, allow_zero=False, allow_null=False):
    field = f"{where}.{key}" if where else key
    value = _get(obj, key, where)
    if value is None and allow_null:
        return None
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        _fail(field, f"must be {'an integer' if integer else 'a number'}", value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        _fail(field, "must be a " + ("non-negative" if allow_zero else "positive")
              + " finite number", value)
    return value


def _string(obj, key, where, allow_null=False):
    value = _get(obj, key, where)
    if value is None and allow_null:
        return None
    if not isinstance(value, str):
        _fail(f"{where}.{key}" if where else key, "must be a string", value)
    return value


def validate_sweep(document):
    """Check a sweep (the parsed JSON of the schema above); return it, or raise ValueError
    naming the first wrong field (``rows[3].epoch_seconds must be a positive finite number``).
    """
    schema = _get(document, "schema", "")
    if schema != SCHEMA:
        _fail("schema", f"must be {SCHEMA}", schema)
    if not isinstance(_get(document, "provisional", ""), bool):
        _fail("provisional", "must be true or false", document["provisional"])
    _string(document, "date", "")
    _string(document, "command", "")
    _string(document, "commit", "", allow_null=True)
    machine = _get(document, "machine", "")
    _string(machine, "cpu", "machine")
    _positive(machine, "cores", "machine", integer=True)
    _positive(machine, "ram_bytes", "machine", integer=True)
    settings = _get(document, "settings", "")
    _string(settings, "architecture", "settings")
    for key in ("epsilon", "zeta", "dropout"):
        _positive(settings, key, "settings", allow_zero=key != "epsilon")
    for key in ("batch_size", "samples"):
        _positive(settings, key, "settings", integer=True)
    model = _get(document, "bytes", "")
    for key in ("per_connection", "per_connection_int64", "per_activation", "batch_size"):
        _positive(model, key, "bytes", integer=True)
    arrays = _get(model, "per_connection_arrays", "bytes")
    if not isinstance(arrays, dict) or not arrays:
        _fail("bytes.per_connection_arrays", "must be a non-empty JSON object", arrays)
    for name in arrays:
        _positive(arrays, name, "bytes.per_connection_arrays", integer=True)
    per_neuron = _get(model, "per_neuron", "bytes")
    for key in ("output", "input"):
        _positive(per_neuron, key, "bytes.per_neuron", integer=True)
    rows = _get(document, "rows", "")
    if not isinstance(rows, list) or not rows:
        _fail("rows", "must be a non-empty list", rows)
    for i, row in enumerate(rows):
        where = f"rows[{i}]"
        for key in _ROW_INTS:
            _positive(row, key, where, integer=True)
        for key in _ROW_NUMBERS:
            _positive(row, key, where)
        for key in _ROW_NONNEGATIVE:
            _positive(row, key, where, allow_zero=True)
        _positive(row, "evolution_seconds", where, allow_zero=True, allow_null=True)
        hidden = _get(row, "hidden", where)
        if (not isinstance(hidden, list) or len(hidden) != DEPTH
                or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0
                           for h in hidden)):
            _fail(f"{where}.hidden", f"must list {DEPTH} positive integer widths", hidden)
        if row["neurons"] != N_INPUTS + sum(hidden) + N_CLASSES:
            _fail(f"{where}.neurons", f"must be {N_INPUTS} + sum(hidden) + {N_CLASSES} = "
                  f"{N_INPUTS + sum(hidden) + N_CLASSES}", row["neurons"])
        if i and row["neurons"] <= rows[i - 1]["neurons"]:
            _fail(f"{where}.neurons", "must grow from row to row (ascending widths)",
                  row["neurons"])
    return document


def load_sweep(path=None):
    """The stored sweep (default: :data:`SWEEP_PATH`), checked by :func:`validate_sweep`.

    Raises
    ------
    ValueError
        The file is not JSON, or a field is missing or wrong (named in the message).
    """
    path = Path(SWEEP_PATH if path is None else path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"the sweep file {path} is not valid JSON: {error}") from None
    return validate_sweep(document)


# -- the cost curve --------------------------------------------------------------------------
@dataclass(frozen=True)
class CostFit:
    r"""A power law of the cost per connection and sample, fitted in log-log:

    .. math:: t(C) = a\, C^{\,b} \quad \text{ns per connection-sample}, \qquad
              \log t = \log a + b \log C

    ``low`` and ``high`` are the smallest and largest number of connections fitted: beyond
    them :meth:`predict` extrapolates. ``rms_log_error`` is the root mean square of the fit's
    residuals in natural log (0.1: about 10 % off, typically).
    """
    a: float
    b: float
    low: float
    high: float
    n_points: int
    rms_log_error: float

    def predict(self, connections):
        """ns per connection-sample at ``connections`` (scalar or array)."""
        return self.a * np.asarray(connections, dtype=float) ** self.b

    def within_range(self, connections):
        return bool(self.low <= connections <= self.high)


def fit_cost(connections, ns_per_connection_sample, low=None, high=None):
    """Least-squares fit of :class:`CostFit` to measured points.

    Parameters
    ----------
    connections : (n,) array of positive numbers
        Connections of each measured network.
    ns_per_connection_sample : (n,) array of positive numbers
        Training nanoseconds per connection and sample at each.
    low, high : float, optional
        Fit only the points with ``low <= connections <= high``.

    Returns
    -------
    CostFit
        With a single point the exponent is 0 (a constant cost).
    """
    c = np.asarray(connections, dtype=float)
    t = np.asarray(ns_per_connection_sample, dtype=float)
    if c.shape != t.shape or c.ndim != 1 or c.size == 0:
        raise ValueError(f"connections and ns_per_connection_sample must be 1-D of one length "
                         f"(>= 1); got shapes {c.shape} and {t.shape}")
    for name, values in (("connections", c), ("ns_per_connection_sample", t)):
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"{name} must be positive finite numbers; got {values.tolist()}")
    keep = np.ones(c.size, dtype=bool)
    if low is not None:
        keep &= c >= low
    if high is not None:
        keep &= c <= high
    if not keep.any():
        raise ValueError(f"no point in the range [{low}, {high}] of connections "
                         f"(measured: {c.min():.3g} to {c.max():.3g})")
    x, y = np.log(c[keep]), np.log(t[keep])
    if keep.sum() == 1 or np.ptp(x) == 0:
        b, log_a = 0.0, float(np.mean(y))
    else:
        b, log_a = np.polyfit(x, y, 1)
    residual = y - (log_a + b * x)
    return CostFit(float(np.exp(log_a)), float(b), float(c[keep].min()), float(c[keep].max()),
                   int(keep.sum()), float(np.sqrt(np.mean(residual ** 2))))


def sweep_cost_fit(sweep=None, low=None, high=None):
    """:func:`fit_cost` over a sweep's rows (default: the stored sweep)."""
    sweep = load_sweep() if sweep is None else validate_sweep(sweep)
    rows = sweep["rows"]
    return fit_cost([r["connections"] for r in rows],
                    [r["ns_per_connection_sample"] for r in rows], low, high)


# -- bytes and extrapolation -----------------------------------------------------------------
def hidden_width(neurons):
    """The width ``h`` of 784-h-h-h-10 with ``neurons`` neurons in all (rounded)."""
    check_in_range("neurons", neurons, N_INPUTS + N_CLASSES + DEPTH, None)
    return int(round((neurons - N_INPUTS - N_CLASSES) / DEPTH))


def layer_connections(hidden, epsilon=20.0):
    r"""``(connections, sparse?)`` per layer of 784-hidden-10 at Erdős–Rényi ε: a layer with
    :math:`p = \varepsilon (n_{in} + n_{out}) / (n_{in} n_{out}) \ge 1` is dense (the
    classifier, usually), with :math:`n_{in} n_{out}` weights."""
    sizes = [N_INPUTS, *[int(h) for h in hidden], N_CLASSES]
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        p = erdos_renyi_density(epsilon, n_in, n_out)
        out.append((n_connections(p, n_in, n_out), p < 1))
    return out


def activation_peak(sizes, batch_size, per_activation=4):
    r"""Peak bytes of the activations in a training step (the engine's rule,
    :func:`setcourse.nn.network.training_activation_bytes`):

    .. math:: b\, B \max_{l \ge 1} \Big(\sum_{i \le l} n_i + n_{l+1} + n_l\Big)

    with ``b = per_activation`` bytes, ``B = batch_size``, :math:`n_i` the layer sizes.
    """
    return training_activation_bytes(sizes, batch_size) // ACTIVATION_BYTES * per_activation


@dataclass(frozen=True)
class Extrapolation:
    """Memory and epoch time of a 784-h-h-h-10 SET-MLP of ``neurons`` neurons.

    ``memory_bytes`` is what one process holds in training (every worker holds a whole model
    in data parallelism: it does not shrink with ``workers``); ``model_bytes`` and
    ``activation_bytes`` are its parts. ``epoch_seconds`` is on ``workers`` workers of
    ``efficiency``; ``ns_per_connection_sample`` the fitted cost used, ``extrapolated`` whether
    ``connections`` lies outside the fitted range (then ``range_factor`` says how far: the
    ratio to the nearest end, >= 1).
    """
    neurons: int
    hidden: int
    connections: int
    model_bytes: int
    activation_bytes: int
    memory_bytes: int
    ns_per_connection_sample: float
    epoch_seconds: float
    workers: int
    efficiency: float
    extrapolated: bool
    range_factor: float


def extrapolate(neurons, sweep=None, fit=None, samples=None, batch_size=None, workers=1,
                efficiency=1.0, epsilon=None):
    r"""Memory and time of one epoch for ``neurons`` neurons, from a measured sweep.

    Memory: each sparse layer keeps ``bytes.per_connection`` bytes per connection
    (``per_connection_int64`` in a layer of at least 2³¹), plus ``bytes.per_neuron``; a dense
    layer 12 bytes per weight; activations :func:`activation_peak`. Time, on :math:`W`
    workers of parallel efficiency :math:`e` (1: perfect; data parallelism splits the samples,
    each worker runs the whole model):

    .. math:: T = \frac{t(C)\, C\, S}{W e}

    with :math:`t(C)` the fitted cost (:func:`sweep_cost_fit`) in seconds per connection-sample,
    :math:`C` connections, :math:`S` samples.

    Parameters
    ----------
    neurons : int
        All neurons, 784 inputs and 10 outputs included (``h = (neurons - 794) / 3``).
    sweep : dict, optional
        A sweep of the schema above (default: the stored one).
    fit : CostFit, optional
        Default: :func:`sweep_cost_fit` of ``sweep``.
    samples, batch_size : int, optional
        Default: the sweep's settings.
    workers : int >= 1
    efficiency : float in (0, 1]
    epsilon : float, optional
        Default: the sweep's.
    """
    sweep = load_sweep() if sweep is None else validate_sweep(sweep)
    check_positive_int("workers", workers)
    check_in_range("efficiency", efficiency, 0, 1, low_open=True)
    settings, model = sweep["settings"], sweep["bytes"]
    samples = settings["samples"] if samples is None else samples
    batch_size = settings["batch_size"] if batch_size is None else batch_size
    epsilon = settings["epsilon"] if epsilon is None else epsilon
    check_positive_int("samples", samples)
    check_positive_int("batch_size", batch_size)
    fit = sweep_cost_fit(sweep) if fit is None else fit
    h = hidden_width(neurons)
    hidden = (h,) * DEPTH
    sizes = [N_INPUTS, *hidden, N_CLASSES]
    model_bytes = connections = 0
    for (count, sparse), n_in, n_out in zip(layer_connections(hidden, epsilon), sizes[:-1],
                                            sizes[1:]):
        connections += count
        if sparse:
            wide = count >= INT64_CONNECTIONS
            per = model["per_connection_int64"] if wide else model["per_connection"]
            index_extra = 4 if wide else 0  # the two row-pointer arrays widen too
            model_bytes += (per * count
                            + (model["per_neuron"]["output"] + index_extra) * n_out
                            + (model["per_neuron"]["input"] + index_extra) * n_in)
        else:
            model_bytes += DENSE_BYTES * (count + n_out)
    activations = activation_peak(sizes, batch_size, model["per_activation"])
    cost = float(fit.predict(connections))
    seconds = cost * 1e-9 * connections * samples / (workers * efficiency)
    factor = max(fit.low / connections, connections / fit.high, 1.0)
    return Extrapolation(int(neurons), h, int(connections), int(model_bytes), int(activations),
                         int(model_bytes + activations), cost, seconds, int(workers),
                         float(efficiency), not fit.within_range(connections), float(factor))
