"""Checkpoints: a fitted model as one ``.npz`` file, and back, every array checked on the way in.

The file holds ``meta`` (JSON text: format version, hyper-parameters, shapes, step, epoch,
random-generator state, the strategy's scalar state, the history, the layer types), per
layer ``i`` the arrays of ``layer.state_arrays()`` as ``layer{i}.<name>``, and the arrays of
``strategy.state_arrays()`` as ``strategy.<name>``. No pickles:
``np.load(path, allow_pickle=False)`` reads it.

**Format 1.** Array names and their orientation (output-major, as the layers store them):
every layer ``bias``, ``bias_velocity``; a sparse layer ``indptr``, ``indices``, ``data``,
``velocity`` (the CSR of :math:`W^\\top`); a dense layer ``weights`` ``(n_out, n_in)`` and
``velocity``; a DST layer as a dense one (``weights`` = the effective :math:`W \\odot M`)
plus ``dense_weights``, ``threshold``, ``threshold_velocity``. ``strategy_state`` holds
whatever scalar attributes ending in ``_`` the strategy had; on load the fields the strategy
declares (:attr:`EvolutionStrategy.STATE <setcourse.evolution.base.EvolutionStrategy.STATE>`)
are checked and restored, the others (e.g. RigL's former ``stop_step_``) are ignored.

**Format 2** (written since; format 1 is still read). Format 1, plus the strategy's state
that is not scalar: ``strategy.<name>`` arrays of
:meth:`~setcourse.evolution.base.EvolutionStrategy.state_spec` (Sparse Momentum's dense
momentum window ``strategy.momentum<i>``, ``(n_out, n_in)`` float32 for each sparse layer
``i``, while it runs; all of them or none), and ``strategy_state`` holds exactly the fields
the strategy declares (another is refused). A fit saved at an epoch end and resumed from
the file for its remaining epochs continues exactly: same weights, history, generator,
schedule position, counters and momentum (see :mod:`setcourse.evolution.base`). A file of
format 1 has no momentum window: loading one written while the window ran warns that the
resumed fit restarts it at zero (and the run then differs from an uninterrupted one).

**Reading a file is reading untrusted input.** A crafted or damaged file must never let the
kernels read or write outside their arrays, nor ask for memory it will not use. :func:`load`
therefore, in this order and before any kernel sees an array of the file:

1. checks the archive (a zip of ``.npy`` members, no duplicates, no encryption, sizes that
   the file can hold, no "zip bomb") and the metadata (types and ranges of every field, the
   hyper-parameters through the model's own checks, the layer types, the generator state,
   the strategy's scalar state by type);
2. reads only the ``.npy`` headers and checks each array's name, dtype (exactly the one the
   layer stores: no object arrays, no other byte order) and shape against the layer that
   the metadata describes (``Layer.state_spec``), the strategy's arrays against its
   ``state_spec`` for those layers, and that each member holds exactly the bytes its header
   announces;
3. estimates the memory the model and the arrays need and refuses, with the figure, what
   the machine cannot hold (a crafted ``n_features = 1e9`` once asked for 164 GiB);
4. reads the data (the zip's CRC-32 catches flipped bytes), builds the model, checks that
   it has the layer types of the file, and restores each layer, whose ``restore`` checks
   the values first (``Layer.check_state``: finiteness, the CSR index: ``indptr`` from 0,
   non-decreasing, ending at ``nnz``; indices in ``0..n_in-1``, strictly increasing within
   each row; a DST layer's effective weights agreeing with its weights and thresholds), then
   the strategy, whose ``restore`` checks its state first (``EvolutionStrategy.check_state``:
   each declared field by its rule, the fit's position against the step, the arrays'
   shapes, dtypes and finiteness).

All of it is O(size of the file), vectorised. Whatever is wrong raises
:class:`CheckpointError` (a ValueError) naming the file and the problem; a missing file is
still a FileNotFoundError.

The estimator class is passed in (``load(MLP, path)``): this module sits below the model and
imports nothing of it.

One concept (a checkpoint read as untrusted input, check by check), hence its length.
"""
import inspect
import json
import math
import re
import struct
import tokenize
import zipfile
import zlib
from collections import namedtuple

import numpy as np

from ._atomic import atomic_file
from ._validation import check_state_arrays
from .plan import MAX_WIDTH, check_plan, format_bytes, memory_limit, plan
from .evolution import STRATEGIES, EvolutionStrategy
from .nn.layers import Layer

FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
#: the largest ``meta`` member read (a long history is a few MB)
MAX_META_BYTES = 64 * 2**20
#: deflate cannot compress more than about 1032:1; a member claiming more is a zip bomb
MAX_DEFLATE_RATIO = 1100
#: what any read of a damaged archive may raise, turned into a CheckpointError
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
               TypeError, struct.error, UnicodeDecodeError, NotImplementedError, RuntimeError,
               OverflowError, IndexError, SyntaxError, tokenize.TokenError)
ARRAY_NAME = re.compile(r"layer(0|[1-9][0-9]{0,5})\.([a-z_]{1,40})")
STRATEGY_ARRAY = re.compile(r"strategy\.([a-z][a-z0-9_]{0,60})")
STATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,60}[a-z0-9]_")

Header = namedtuple("Header", "shape dtype nbytes")


class CheckpointError(ValueError):
    """A file that is not a checkpoint this setcourse reads, or a damaged or edited one.

    ``path`` is the file, ``problem`` what is wrong with it; the message says both.
    """

    def __init__(self, path, problem):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


def save(model, path):
    """Write ``model`` (fitted) to ``path``; returns ``path``.

    The file is written to a temporary name and renamed, so a crash never leaves a
    half-written checkpoint.
    """
    params = model.get_params()
    strategy = params["topology"]
    if isinstance(strategy, EvolutionStrategy):
        params["topology"] = {"strategy": strategy.name, "params": strategy.get_params()}
    params["hidden"] = list(model.validate_params())
    meta = {
        "format_version": FORMAT_VERSION, "params": params,
        "n_features": model.n_features_in_, "n_classes": model.n_classes_,
        "step": model.step_, "epoch": model.epoch_,
        "rng_state": model.rng_.bit_generator.state,
        "strategy_state": model.strategy_.state() if model.strategy_ is not None else {},
        "history": dict(model.history_),
        "layers": [type(layer).__name__ for layer in model.layers_],
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for i, layer in enumerate(model.layers_):
        for name, value in layer.state_arrays().items():
            arrays[f"layer{i}.{name}"] = value
    if model.strategy_ is not None:
        for name, value in model.strategy_.state_arrays().items():
            arrays[f"strategy.{name}"] = value
    with atomic_file(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, **arrays)
    return path


# -- the archive ----------------------------------------------------------------------------
class Archive:
    """An ``.npz`` file opened for checked reading: headers first, data on request."""

    def __init__(self, path):
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except READ_ERRORS as error:
            raise CheckpointError(path, f"not a readable .npz archive ({error}); the file is "
                                        f"truncated, damaged or not a checkpoint") from None
        try:
            self.members = self._members()
        except BaseException:
            self.zip.close()
            raise

    def _members(self):
        try:
            size = self.zip.fp.seek(0, 2)
        except (OSError, ValueError, AttributeError):
            size = None
        members = {}
        for info in self.zip.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                self.fail(f"member {name!r} is not an .npy array")
            key = name[:-4]
            if key in members:
                self.fail(f"member {name!r} appears twice")
            if info.flag_bits & 0x1:
                self.fail(f"member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.fail(f"member {name!r} uses zip compression method {info.compress_type}; "
                          f"checkpoints are stored or deflated")
            if size is not None and info.compress_size > size:
                self.fail(f"member {name!r} claims {info.compress_size} bytes in a file of "
                          f"{size}: truncated or damaged")
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                self.fail(f"member {name!r} is stored uncompressed but its sizes differ "
                          f"({info.compress_size} stored, {info.file_size} announced)")
            if info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 4096:
                self.fail(f"member {name!r} would expand {info.compress_size} bytes to "
                          f"{info.file_size}: not an array of a checkpoint")
            members[key] = info
        return members

    def fail(self, problem):
        raise CheckpointError(self.path, problem)

    def close(self):
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def header(self, key):
        """:class:`Header` of member ``key``, checked: a known ``.npy`` version, no object
        dtype, and the member holds exactly the bytes the header announces. A header that
        fails is first told apart from a damaged member (its CRC-32), so that a flipped byte
        reads as damage, not as, say, a pickle."""
        info = self.members[key]
        try:
            with self.zip.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    self.fail_checked(key, f"array {key}: .npy format version {version} is not "
                                           f"one numpy.savez writes for checkpoints")
                offset = handle.tell()
        except CheckpointError:
            raise
        except zipfile.BadZipFile as error:  # a small member is read whole: its CRC-32
            self.fail(f"array {key}: {error}; the file is damaged")
        except READ_ERRORS as error:
            self.fail_checked(key, f"array {key}: unreadable header ({error}); the file is "
                                   f"damaged")
        if dtype.hasobject:
            self.fail_checked(key, f"array {key} holds Python objects (dtype {dtype}), which "
                                   f"only a pickle can read; checkpoints hold numbers only")
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            self.fail_checked(key, f"array {key}: its header announces shape {shape} of "
                                   f"{dtype} ({nbytes} bytes) but the member holds "
                                   f"{info.file_size - offset}: truncated or edited")
        return Header(tuple(shape), dtype, nbytes)

    def fail_checked(self, key, problem):
        """Raise ``problem``, or the damage if member ``key`` fails its CRC-32 (read to the end
        in chunks: only on this failure path)."""
        try:
            with self.zip.open(self.members[key]) as handle:
                while handle.read(2**20):
                    pass
        except READ_ERRORS as error:
            self.fail(f"array {key}: {error}; the file is damaged")
        self.fail(problem)

    def read(self, key):
        """The array of member ``key`` (call :meth:`header` first); the CRC-32 is checked."""
        try:
            with self.zip.open(self.members[key]) as handle:
                array = np.lib.format.read_array(handle, allow_pickle=False)
                handle.read()  # at the member's end: the CRC-32 check
        except READ_ERRORS as error:
            self.fail(f"array {key}: {error}; the file is damaged")
        return array

    def meta(self):
        """The parsed ``meta`` (a dict) of a supported format version."""
        if "meta" not in self.members:
            self.fail("not a setcourse checkpoint (no 'meta' entry)")
        header = self.header("meta")
        if header.dtype.kind != "U" or header.shape != ():
            self.fail(f"meta must be JSON text (a 0-d unicode array); got shape {header.shape} "
                      f"of {header.dtype}")
        if header.nbytes > MAX_META_BYTES:
            self.fail(f"meta is {format_bytes(header.nbytes)}, more than the "
                      f"{format_bytes(MAX_META_BYTES)} of any checkpoint's metadata")
        try:
            meta = json.loads(str(self.read("meta")))
        except (ValueError, RecursionError) as error:
            self.fail(f"meta is not valid JSON ({error})")
        if not isinstance(meta, dict):
            self.fail(f"meta must be a JSON object; got {type(meta).__name__}")
        version = meta.get("format_version")
        if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
            raise CheckpointError(self.path,
                                  f"checkpoint format_version {version!r} is not supported; "
                                  f"this setcourse reads format "
                                  f"{', '.join(map(str, SUPPORTED_VERSIONS))}")
        return meta

    def array_headers(self):
        """``{key: Header}`` of every array but ``meta``."""
        return {key: self.header(key) for key in self.members if key != "meta"}


def read(path):
    """``(meta, arrays)`` of the checkpoint at ``path``; CheckpointError if it is not one we
    read (the archive and each array's header checked, arrays no larger than memory)."""
    with Archive(path) as archive:
        meta = archive.meta()
        headers = archive.array_headers()
        needed = sum(h.nbytes for h in headers.values())
        limit, source = memory_limit()
        if needed > limit:
            archive.fail(f"its arrays need {format_bytes(needed)}, more than the "
                         f"{format_bytes(limit)} of {source}")
        arrays = {key: archive.read(key) for key in headers}
    return meta, arrays


# -- the metadata ---------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def layer_classes():
    """Every layer class by name (the names ``meta["layers"]`` holds)."""
    found, todo = {}, [Layer]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return found


def check_meta(meta, n_layers_expected=None):
    """Raise ValueError naming the first field of ``meta`` of the wrong type or range."""
    fields = {"params": dict, "n_features": int, "n_classes": int, "step": int, "epoch": int,
              "rng_state": dict, "strategy_state": dict, "history": dict, "layers": list}
    for key, kind in fields.items():
        if key not in meta:
            raise ValueError(f"meta has no {key!r}")
        value = meta[key]
        if not (_is_int(value) if kind is int else isinstance(value, kind)):
            raise ValueError(f"meta {key!r} must be a JSON {kind.__name__}; got {value!r:.80}")
    for key, low, high in (("n_features", 1, MAX_WIDTH), ("n_classes", 2, MAX_WIDTH),
                           ("step", 0, 2**62), ("epoch", 0, 2**62)):
        if not low <= meta[key] <= high:
            raise ValueError(f"meta {key!r} must be in {low}..{high}; got {meta[key]}")
    classes = layer_classes()
    for index, name in enumerate(meta["layers"]):
        if not isinstance(name, str) or name not in classes or name == "Layer":
            raise ValueError(f"meta 'layers'[{index}] is {name!r:.80}, not a layer type of "
                             f"this setcourse")
    for name, value in meta["strategy_state"].items():
        if not STATE_NAME.fullmatch(name):
            raise ValueError(f"meta 'strategy_state' has the field {name!r:.80}; a strategy's "
                             f"state is named in lower case and ends with '_'")
        if not (value is None or _is_number(value) or isinstance(value, bool) or (
                isinstance(value, list) and all(_is_number(v) for v in value))):
            raise ValueError(f"meta 'strategy_state' {name!r} must be a finite number or a "
                             f"list of them; got {value!r:.80}")
    for name, values in meta["history"].items():
        if not isinstance(values, list) or not all(
                v is None or isinstance(v, (bool, int, float, str)) or (
                    isinstance(v, list) and all(x is None or isinstance(x, (int, float))
                                                for x in v)) for v in values):
            raise ValueError(f"meta 'history' {name!r:.40} must be a list of numbers (or of "
                             f"lists of numbers); got {values!r:.80}")
    generator = np.random.default_rng(0)
    try:
        generator.bit_generator.state = meta["rng_state"]
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ValueError(f"meta 'rng_state' is not a state of numpy's "
                         f"{type(generator.bit_generator).__name__} ({error})") from None


def model_from_meta(model_class, meta):
    """An unbuilt ``model_class`` with the hyper-parameters of ``meta``, checked by the model."""
    params = dict(meta["params"])
    known = [p for p in inspect.signature(model_class.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"meta 'params' has unknown hyper-parameter(s) {', '.join(unknown)}")
    if isinstance(params.get("hidden"), list):
        params["hidden"] = tuple(params["hidden"])
    # Files written before the weight-decay options existed trained with L2 decay inside the
    # gradient and undecayed biases: resume them with that rule, not today's default.
    params.setdefault("weight_decay_mode", "l2")
    params.setdefault("decay_biases", False)
    topology = params.get("topology")
    if isinstance(topology, dict):
        if set(topology) != {"strategy", "params"} or topology["strategy"] not in STRATEGIES \
                or not isinstance(topology["params"], dict):
            raise ValueError(f"meta 'params' topology must be a strategy name or "
                             f"{{'strategy': one of {', '.join(STRATEGIES)}, 'params': {{...}}}}; "
                             f"got {topology!r:.120}")
        try:
            params["topology"] = STRATEGIES[topology["strategy"]](**topology["params"])
        except TypeError as error:
            raise ValueError(f"meta 'params' topology: {error}") from None
    model = model_class(**params)
    hidden = model.validate_params()
    if model.n_classes is not None and model.n_classes != meta["n_classes"]:
        raise ValueError(f"meta 'params' n_classes={model.n_classes} but 'n_classes' is "
                         f"{meta['n_classes']}")
    if len(meta["layers"]) != len(hidden) + 1:
        raise ValueError(f"meta 'layers' lists {len(meta['layers'])} layers, but hidden="
                         f"{hidden} makes {len(hidden) + 1}")
    return model, hidden


def group_arrays(arrays, n_layers, version=FORMAT_VERSION):
    """``([{name: array}] per layer, {name: array} of the strategy)`` from
    ``{"layer{i}.name": array, "strategy.name": array}``; unknown keys refused (and strategy
    arrays in a file of format 1, which has none)."""
    layers, strategy = [{} for _ in range(n_layers)], {}
    for key, value in arrays.items():
        match = ARRAY_NAME.fullmatch(key)
        if match is not None and int(match.group(1)) < n_layers:
            layers[int(match.group(1))][match.group(2)] = value
            continue
        match = STRATEGY_ARRAY.fullmatch(key)
        if match is not None and version >= 2:
            strategy[match.group(1)] = value
            continue
        raise ValueError(f"unexpected array {key!r:.80} (arrays are named layer<i>.<name>, "
                         f"i < {n_layers}" + (", and strategy.<name>)" if version >= 2 else
                                              "; format 1 has no strategy arrays)"))
    return layers, strategy


#: what the strategy's state_spec needs of a layer, before the model is built
LayerShape = namedtuple("LayerShape", "n_in n_out keeps_delta")


# -- loading ------------------------------------------------------------------------------
def load(model_class, path):
    """Rebuild the model saved at ``path`` as an instance of ``model_class`` (e.g. ``MLP``).

    Every field and array is checked first (see the module's docstring); a file that fails
    raises :class:`CheckpointError` naming the file and what is wrong.
    """
    with Archive(path) as archive:
        meta = archive.meta()
        try:
            check_meta(meta)
            model, hidden = model_from_meta(model_class, meta)
            sizes = [meta["n_features"], *hidden, meta["n_classes"]]
            version = meta["format_version"]
            headers, strategy_headers = group_arrays(archive.array_headers(), len(sizes) - 1,
                                                     version)
            classes = layer_classes()
            for i, (name, spec_headers) in enumerate(zip(meta["layers"], headers)):
                classes[name].check_state_shapes(spec_headers, sizes[i], sizes[i + 1],
                                                 f"layer{i}.")
            if strategy_headers:
                strategy = model.make_strategy()
                if strategy is None:
                    raise ValueError(f"unexpected array(s) "
                                     f"{', '.join('strategy.' + n for n in strategy_headers)}: "
                                     f"a dense model has no strategy")
                shapes = [LayerShape(sizes[i], sizes[i + 1], classes[name].keeps_delta)
                          for i, name in enumerate(meta["layers"])]
                check_state_arrays(strategy_headers, strategy.state_spec(shapes), "strategy.")
            file_bytes = sum(h.nbytes for layer in [*headers, strategy_headers]
                             for h in layer.values())
            # the arrays read, plus as much again for restore's copies and temporaries
            check_plan(model, plan(model, meta["n_features"], meta["n_classes"]),
                       extra_bytes=2 * file_bytes, what="the model of this checkpoint")
        except CheckpointError:
            raise
        except (ValueError, TypeError) as error:
            raise CheckpointError(path, str(error)) from None
        arrays = [{name: archive.read(f"layer{i}.{name}") for name in layer}
                  for i, layer in enumerate(headers)]
        strategy_arrays = {name: archive.read(f"strategy.{name}") for name in strategy_headers}
    try:
        model.build(meta["n_features"], meta["n_classes"])
        for i, (layer, name) in enumerate(zip(model.layers_, meta["layers"])):
            if type(layer).__name__ != name:
                raise ValueError(f"layer {i} is a {name} in the file, but its hyper-parameters "
                                 f"build a {type(layer).__name__} ({layer.n_in} -> {layer.n_out})")
            layer.check_state(arrays[i], layer.n_in, layer.n_out, f"layer{i}.")
            layer.restore_checked(arrays[i])
        model.step_, model.epoch_ = meta["step"], meta["epoch"]
        if model.strategy_ is None:
            if meta["strategy_state"]:
                raise ValueError("meta 'strategy_state' is not empty, but a dense model has no "
                                 "strategy")
        else:
            # Format 1 predates the strategy's arrays (None: the strategy knows it has none).
            model.strategy_.restore(meta["strategy_state"],
                                    strategy_arrays if version >= 2 else None, model)
    except CheckpointError:
        raise
    except ValueError as error:
        raise CheckpointError(path, str(error)) from None
    model.rng_.bit_generator.state = meta["rng_state"]
    model.history_.update(meta["history"])
    return model
