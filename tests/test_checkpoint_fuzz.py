"""Fuzzing ``MLP.load`` (issue 17 item 1): every mutation of a valid checkpoint either loads a
model that gives the same finite logits twice and trains an epoch, or raises CheckpointError
naming the file. Never another exception, never a read or write outside an array.

Mutations, from seven valid checkpoints (SET, DST, RigL fixtures of format 1; FixProb, dense,
DSR and Sparse Momentum files written here): truncation at random offsets, random byte flips,
array edits re-saved with valid CRCs (dropped, renamed, added, replaced by random values,
shortened, lengthened, other dtypes and shapes, NaN/inf, duplicate and unsorted positions,
out-of-range indices, broken ``indptr``, object arrays) and metadata edits (fields removed or
set to wrong types, huge or negative values, NaN, broken hyper-parameters, layer types, random
generator and strategy state, history, invalid JSON).
"""
import json
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

from setcourse import MLP
from setcourse.checkpoint import CheckpointError
from setcourse.evolution import DSR, SparseMomentum

FIXTURES = Path(__file__).parent / "fixtures"


def sources(folder):
    """``{name: path}`` of valid checkpoints of every layer type and several strategies."""
    paths = {name: FIXTURES / f"checkpoint_v1_{name}.npz" for name in ("set", "dst", "rigl")}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    for name, topology in (("fixprob", "fixprob"), ("dense", "dense"),
                           ("dsr", DSR(update_period=2)), ("momentum", SparseMomentum())):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MLP(hidden=(7, 4), topology=topology, epsilon=2, epochs=2, batch_size=8,
                        seed=2).fit(X, y)
        paths[name] = model.save(Path(folder) / f"{name}.npz")
    return paths


ODD_VALUES = [None, True, -1, 0, 1, 2, 1.5, 10**9, 2**40, 2**70, -(2**40), float("nan"),
              float("inf"), 1e308, "x", "", [], [1], {}, {"a": 1}]


def array_mutations(arrays, rng):
    """``(label, arrays)`` pairs: one edit of one array, re-saved (valid CRC)."""
    keys = [k for k in arrays if k != "meta"]
    key = keys[rng.integers(len(keys))]
    a = arrays[key]
    flat = a.reshape(-1)

    def replaced(value):
        return {**arrays, key: value}

    def edited(fn):
        b = a.copy()
        fn(b.reshape(-1))
        return replaced(b)

    ops = {
        "drop": lambda: {k: v for k, v in arrays.items() if k != key},
        "rename": lambda: {**{k: v for k, v in arrays.items() if k != key}, key + "x": a},
        "extra": lambda: {**arrays, key.split(".")[0] + ".extra": a},
        "zeros": lambda: replaced(np.zeros_like(a)),
        "random": lambda: replaced(
            rng.normal(size=a.shape).astype(a.dtype) if a.dtype.kind == "f"
            else rng.integers(-3, 2 * max(int(flat.max(initial=0)), 1) + 3, size=a.shape)
            .astype(a.dtype)),
        "shorten": lambda: replaced(flat[:max(0, flat.size - int(rng.integers(1, 4)))]
                                    .copy() if a.ndim == 1 else a[:-1]),
        "lengthen": lambda: replaced(np.concatenate([a, a[:1]]) if a.size else a),
        "dtype": lambda: replaced(a.astype([np.float64, np.float16, np.int64, np.int32, np.uint8,
                                            np.bool_, ">f4", ">i4", np.complex64][
                                                rng.integers(9)])),
        "2-d": lambda: replaced(a[None]),
        "flat": lambda: replaced(flat.copy()),
        "transpose": lambda: replaced(a.T.copy()),
        "nan": lambda: edited(lambda b: b.__setitem__(rng.integers(b.size), np.nan)
                              if b.size and b.dtype.kind == "f" else None),
        "inf": lambda: edited(lambda b: b.__setitem__(rng.integers(b.size), -np.inf)
                              if b.size and b.dtype.kind == "f" else None),
        "duplicate": lambda: edited(lambda b: b.__setitem__(slice(1, 2), b[0])
                                    if b.size > 1 else None),
        "swap": lambda: edited(lambda b: b.__setitem__([0, -1], b[[-1, 0]])
                               if b.size > 1 else None),
        "plus one": lambda: edited(lambda b: b.__setitem__(rng.integers(b.size), b[0] + 1)
                                   if b.size else None),
        "huge index": lambda: edited(lambda b: b.__setitem__(rng.integers(b.size), 2**31 - 1)
                                     if b.size and b.dtype.kind == "i" else None),
        "negative": lambda: edited(lambda b: b.__setitem__(rng.integers(b.size), -1)
                                   if b.size and b.dtype.kind == "i" else None),
        "object": lambda: replaced(np.array(list(flat) + ["x"], dtype=object)),
    }
    name = list(ops)[rng.integers(len(ops))]
    return f"{key}: {name}", ops[name]()


def meta_mutations(arrays, rng):
    """``(label, arrays)``: one edit of the metadata."""
    meta = json.loads(str(arrays["meta"]))
    fields = [(k,) for k in meta] + [("params", k) for k in meta["params"]]
    path = fields[rng.integers(len(fields))]
    target = meta
    for key in path[:-1]:
        target = target[key]
    op = rng.integers(5)
    if op == 0:
        del target[path[-1]]
        label = "delete"
    elif op == 1 and path[-1] in ("hidden", "layers"):
        value = [[], [0], [10**9], [6, 6], ["a"], 6, [7], [-1], [6.5], ["DenseLayer"] * 2,
                 ["SparseLayer", "SparseLayer"], ["DSTLayer", "DSTLayer"]][rng.integers(12)]
        target[path[-1]] = value
        label = f"= {value!r}"
    elif op == 2 and isinstance(target[path[-1]], dict) and target[path[-1]]:
        inner = target[path[-1]]
        sub = list(inner)[rng.integers(len(inner))]
        inner[sub] = ODD_VALUES[rng.integers(len(ODD_VALUES))]
        label = f"[{sub!r}] = {inner[sub]!r}"
    else:
        value = ODD_VALUES[rng.integers(len(ODD_VALUES))]
        target[path[-1]] = value
        label = f"= {value!r}"
    text = json.dumps(meta)
    if rng.random() < 0.05:
        text = text[:int(rng.integers(len(text)))]  # not JSON any more
        label += ", cut"
    return f"meta {'.'.join(path)} {label}", {**arrays, "meta": np.array(text)}


def check_one(path):
    """``"loaded"`` or ``"caught"``; raises AssertionError for anything else."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MLP.load(path)
    except CheckpointError as error:
        assert str(error).startswith(f"{path}: "), str(error)
        return "caught"
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, model.n_features_in_)).astype(np.float32)
    first = model.decision_function(X)
    second = model.decision_function(X)
    assert np.array_equal(first, second), "two predictions differ"
    assert np.isfinite(first).all(), "non-finite logits"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.set_params(warm_start=True).fit(X, rng.integers(0, model.n_classes_, 10),
                                                  epochs=1)
    except FloatingPointError:
        pass  # a divergence (e.g. lr=1e308 in the file) is reported, not a memory error
    return "loaded"


def run_fuzz(folder, n_per_kind=25, seed=0):
    """Counts per kind of mutation: ``{kind: {"tried", "loaded", "caught"}}``; failures."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    counts, failures = {}, []
    for source_name, source in sources(folder).items():
        raw = source.read_bytes()
        with np.load(source) as archive:
            arrays = dict(archive)
        cases = []
        for _ in range(n_per_kind):
            cut = int(rng.integers(0, len(raw)))
            cases.append(("truncate", f"at {cut}", raw[:cut]))
            flipped = bytearray(raw)
            for offset in rng.integers(0, len(raw), size=int(rng.integers(1, 4))):
                flipped[offset] ^= int(rng.integers(1, 256))
            cases.append(("flip", "bytes", bytes(flipped)))
            cases.append(("array", *array_mutations(arrays, rng)))
            cases.append(("meta", *meta_mutations(arrays, rng)))
        for kind, label, payload in cases:
            path = folder / "mutated.npz"
            if isinstance(payload, bytes):
                path.write_bytes(payload)
            else:
                np.savez(path, **payload)
            tally = counts.setdefault(kind, {"tried": 0, "loaded": 0, "caught": 0})
            tally["tried"] += 1
            try:
                tally[check_one(path)] += 1
            except Exception:  # noqa: BLE001 - the point: anything else is a failure
                failures.append(f"{source_name} {kind} {label}:\n{traceback.format_exc()}")
    return counts, failures


def test_every_mutation_loads_cleanly_or_raises_checkpoint_error(tmp_path):
    counts, failures = run_fuzz(tmp_path, n_per_kind=20)
    assert not failures, f"{len(failures)} mutation(s) escaped:\n" + "\n".join(failures[:5])
    total = {key: sum(c[key] for c in counts.values()) for key in ("tried", "loaded", "caught")}
    assert total["tried"] == 7 * 4 * 20 and total["loaded"] + total["caught"] == total["tried"]
    assert counts["truncate"]["loaded"] == 0  # no truncated file loads
    assert total["caught"] > total["tried"] / 2  # most mutations break the file ...
    assert total["loaded"] > 0  # ... but some are valid files (e.g. random finite weights)


if __name__ == "__main__":  # the figures of the note: python tests/test_checkpoint_fuzz.py [N]
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        counts, failures = run_fuzz(folder, int(sys.argv[1]) if len(sys.argv) > 1 else 100)
    for kind, tally in counts.items():
        print(f"{kind:9} {tally}")
    print(f"{len(failures)} failure(s)")
    for failure in failures[:10]:
        print(failure)
