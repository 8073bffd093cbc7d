"""Run specifications: what one run is (a flat JSON dict), its stable id, and grids of them.

A *spec* is a flat dict. The data keys (:data:`DATA_KEYS`) say what to load, ``recorders``
names per-epoch extras, and every other key is passed to :class:`setcourse.MLP` as it is, so
any parameter of the estimator (today's or a future one) can be swept::

    {"dataset": "fashion_mnist", "n_train": 5000, "n_test": 1000, "preprocess": "scale",
     "hidden": [1000, 1000, 1000], "topology": "set", "zeta": 0.3, "epochs": 400, "seed": 0}

``seed`` seeds the model (weights, topology, batch order, dropout); ``data_seed`` (default 0)
picks the stratified subset, so the seeds of a grid train on the same images.

The run id is a hash of the spec's canonical JSON (keys sorted, ``13`` and ``13.0`` alike):
the same spec always lands in the same folder, whatever grid it came from. It does not cover
the library's defaults: a key left out of the spec takes the estimator's default of the
version that runs it (the summary records the resolved parameters and the version).
"""
import hashlib
import itertools
import json
import math
from numbers import Integral, Real

#: Spec keys that describe the data set rather than the model (``data_seed`` is load's seed).
DATA_KEYS = ("dataset", "n_train", "n_test", "preprocess", "data_seed", "data_dir", "fallback",
             "subset")
#: Spec keys of the runner itself.
RUN_KEYS = ("recorders",)
DEFAULT_DATASET = "fashion_mnist"

__all__ = ["DATA_KEYS", "RUN_KEYS", "Grid", "as_specs", "canonical_json", "run_id",
           "split_spec", "varying_keys"]


def _plain(value):
    """``value`` as plain JSON types: tuples and ranges become lists, numpy scalars numbers."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, range)):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    raise TypeError(f"spec values must be JSON-able (numbers, strings, lists, dicts); "
                    f"got {value!r} of type {type(value).__name__}")


def _hash_form(value):
    """Canonical form for hashing: integral floats as ints (``13.0`` and ``13`` are one run)."""
    if isinstance(value, dict):
        return {key: _hash_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hash_form(item) for item in value]
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def canonical_json(spec):
    """The spec as compact JSON with sorted keys (plain types)."""
    return json.dumps(_plain(spec), sort_keys=True, separators=(",", ":"))


def run_id(spec):
    """Stable 12-hex-digit id of a spec: the same spec gives the same id on every machine."""
    text = json.dumps(_hash_form(_plain(spec)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def split_spec(spec):
    """``(data_kwargs, model_params, recorders)`` of a spec.

    ``data_kwargs`` are keyword arguments of :func:`setcourse.load` (``data_seed`` becomes
    ``seed``; ``dataset`` defaults to fashion_mnist, ``data_seed`` to 0).
    """
    data = {"name": spec.get("dataset", DEFAULT_DATASET), "seed": spec.get("data_seed", 0)}
    for key in DATA_KEYS:
        if key in spec and key not in ("dataset", "data_seed"):
            data[key] = spec[key]
    params = {key: value for key, value in spec.items()
              if key not in DATA_KEYS and key not in RUN_KEYS}
    recorders = spec.get("recorders") or []
    if isinstance(recorders, (str, dict)):
        recorders = [recorders]
    return data, params, list(recorders)


class Grid:
    """The runs of every combination of the ``vary`` values on top of ``base``.

    Parameters
    ----------
    base : dict
        Keys shared by every run.
    vary : dict of key -> list of values
        The axes; the product runs in the order given (the last key varies fastest).
    overrides : list of (when, update) pairs
        After the product, every spec whose items include all of ``when`` is updated with
        ``update``: e.g. ``[({"topology": "dense"}, {"lr": 0.04})]`` gives the dense runs
        their own learning rate.

    Grids add up: ``Grid(...) + Grid(...)`` is the runs of both (duplicates once).

    Examples
    --------
    >>> grid = Grid(base={"dataset": "digits", "hidden": (16,), "epochs": 3},
    ...             vary={"topology": ["set", "fixprob"], "seed": range(2)})
    >>> len(grid), [(s["topology"], s["seed"]) for s in grid]
    (4, [('set', 0), ('set', 1), ('fixprob', 0), ('fixprob', 1)])
    """

    def __init__(self, base=None, vary=None, overrides=()):
        self.base = _plain(dict(base or {}))
        self.vary = {str(key): _plain(list(values)) if not isinstance(values, str)
                     else [values] for key, values in dict(vary or {}).items()}
        for key, values in self.vary.items():
            if not values:
                raise ValueError(f"vary[{key!r}] is empty: a grid axis needs at least one value")
        self.overrides = [(_plain(dict(when)), _plain(dict(update))) for when, update in overrides]
        self._extra = []

    def specs(self):
        """The list of run specs (plain JSON dicts)."""
        keys = list(self.vary)
        specs = []
        for combination in itertools.product(*(self.vary[key] for key in keys)):
            spec = dict(self.base)
            spec.update(zip(keys, combination))
            for when, update in self.overrides:
                if all(key in spec and _hash_form(spec[key]) == _hash_form(value)
                       for key, value in when.items()):
                    spec.update(update)
            specs.append(spec)
        for other in self._extra:
            specs.extend(other.specs())
        return _unique(specs)

    def __iter__(self):
        return iter(self.specs())

    def __len__(self):
        return len(self.specs())

    def __add__(self, other):
        combined = Grid(self.base, self.vary, self.overrides)
        combined._extra = [*self._extra, other if isinstance(other, Grid) else _Specs(other)]
        return combined

    def __repr__(self):
        return f"Grid(base={self.base!r}, vary={self.vary!r}) with {len(self)} runs"

    @classmethod
    def from_json(cls, data):
        """A grid from its JSON form: ``{"base": {...}, "vary": {...}, "overrides":
        [{"when": {...}, "set": {...}}]}``, a list of such objects and/or plain specs, or
        ``{"runs": [spec, ...]}``."""
        if isinstance(data, list):
            parts = [cls.from_json(item) if isinstance(item, dict) and
                     ({"base", "vary", "runs"} & set(item)) else _Specs([item]) for item in data]
            grid = _Specs([])
            grid._extra = parts
            return grid
        if not isinstance(data, dict):
            raise ValueError(f"a grid file holds an object or a list; got {type(data).__name__}")
        unknown = set(data) - {"base", "vary", "overrides", "runs"}
        if unknown:
            raise ValueError(f"unknown keys in grid: {sorted(unknown)} (expected base, vary, "
                             f"overrides, runs)")
        if "runs" in data:
            if {"vary", "overrides"} & set(data):
                raise ValueError("a grid gives either runs or vary/overrides, not both")
            base = data.get("base", {})
            return _Specs([{**base, **spec} for spec in data["runs"]])
        overrides = []
        for item in data.get("overrides", []):
            if not isinstance(item, dict) or set(item) != {"when", "set"}:
                raise ValueError(f"each override is {{\"when\": {{...}}, \"set\": {{...}}}}; "
                                 f"got {item!r}")
            overrides.append((item["when"], item["set"]))
        return cls(data.get("base"), data.get("vary"), overrides)


class _Specs(Grid):
    """A fixed list of specs, as a grid."""

    def __init__(self, specs):
        super().__init__()
        self._specs = [_plain(dict(spec)) for spec in specs]

    def specs(self):
        return _unique([*self._specs, *(s for other in self._extra for s in other.specs())])

    def __add__(self, other):
        combined = _Specs(self._specs)
        combined._extra = [*self._extra, other if isinstance(other, Grid) else _Specs(other)]
        return combined

    def __repr__(self):
        return f"<{len(self)} run specs>"


def _unique(specs):
    seen, unique = set(), []
    for spec in specs:
        key = run_id(spec)
        if key not in seen:
            seen.add(key)
            unique.append(spec)
    return unique


def as_specs(runs):
    """A list of unique plain specs from a :class:`Grid`, one spec dict, or a list of either."""
    if isinstance(runs, Grid):
        return runs.specs()
    if isinstance(runs, dict):
        return _unique([_plain(runs)])
    specs = []
    for item in runs:
        if isinstance(item, Grid):
            specs.extend(item.specs())
        elif isinstance(item, dict):
            specs.append(_plain(item))
        else:
            raise TypeError(f"a sweep is a Grid, a spec dict or a list of them; got "
                            f"{type(item).__name__}")
    return _unique(specs)


def varying_keys(specs, exclude=()):
    """Keys whose value differs between the specs (or is missing from some), in first-seen order."""
    keys = []
    for spec in specs:
        keys.extend(key for key in spec if key not in keys)
    def value(spec, key):
        return json.dumps(_hash_form(spec[key]), sort_keys=True) if key in spec else None

    return [key for key in keys if key not in exclude
            and len({value(spec, key) for spec in specs}) > 1]
