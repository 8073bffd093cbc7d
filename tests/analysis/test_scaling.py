"""The sweep file's checks, the cost fit and the extrapolation, on hand-built cases."""
import copy
import json
import math

import numpy as np
import pytest

from setcourse.analysis import memory, scaling


def row(hidden, ns=1.0, samples=1000):
    neurons = 784 + 3 * hidden + 10
    return {"neurons": neurons, "hidden": [hidden] * 3, "connections": 40 * hidden,
            "sparse_connections": 30 * hidden, "samples": samples, "batch_size": 128,
            "build_seconds": 0.1, "epoch_seconds": 1.0, "seconds_forward": 0.4,
            "seconds_backward": 0.5, "seconds_update": 0.0, "evolution_seconds": None,
            "ns_per_connection_sample": ns, "ns_forward": ns / 2, "ns_backward": ns / 2,
            "peak_rss_bytes": 10**9, "train_peak_rss_bytes": 10**8,
            "stored_sparse_bytes": 10**8, "bytes_per_connection": 50.0}


def sweep(rows=None):
    return {"schema": 1, "provisional": False, "date": "2026-12-01T23:00:00Z",
            "command": "python benchmarks/scale.py --sweep", "commit": None,
            "machine": {"cpu": "test", "cores": 2, "ram_bytes": 2**34},
            "settings": {"architecture": "784-h-h-h-10", "epsilon": 20, "zeta": 0.3,
                         "dropout": 0.3, "batch_size": 128, "samples": 1000,
                         "samples_from": None, "data": "random", "threads": 2},
            "bytes": {"per_connection": 20, "per_connection_int64": 24, "per_activation": 4,
                      "per_connection_arrays": {"data": 20}, "batch_size": 128,
                      "per_neuron": {"output": 16, "input": 4}},
            "rows": rows or [row(1000, 1.0), row(10000, 2.0)]}


def test_the_stored_sweep_loads_and_follows_the_engine():
    document = scaling.load_sweep()
    assert document["bytes"]["per_connection"] == memory.bytes_per_connection()
    assert document["bytes"]["per_connection_int64"] == memory.bytes_per_connection(index64=True)
    assert document["bytes"]["per_connection_arrays"] == memory.connection_arrays()
    assert document["bytes"]["per_neuron"] == memory.bytes_per_neuron()
    assert document["rows"][0]["neurons"] >= 10000


@pytest.mark.parametrize("path, value, message", [
    (("schema",), 2, "schema must be 1"),
    (("provisional",), "no", "provisional must be true or false"),
    (("machine", "cores"), 0, "machine.cores must be a positive"),
    (("machine", "cpu"), 3, "machine.cpu must be a string"),
    (("settings", "epsilon"), -1, "settings.epsilon must be a positive finite"),
    (("bytes", "per_connection"), 2.5, "bytes.per_connection must be an integer"),
    (("rows",), [], "rows must be a non-empty list"),
    (("rows", 1, "epoch_seconds"), float("nan"), r"rows\[1\].epoch_seconds must be a positive"),
    (("rows", 0, "ns_per_connection_sample"), "fast", r"rows\[0\].ns_per_connection_sample must be a number"),
    (("rows", 0, "seconds_update"), -1.0, r"rows\[0\].seconds_update must be a non-negative"),
    (("rows", 0, "hidden"), [1, 2], r"rows\[0\].hidden must list 3"),
    (("rows", 0, "neurons"), 5, r"rows\[0\].neurons must be 784 \+ sum\(hidden\)"),
    (("rows", 0, "samples"), True, r"rows\[0\].samples must be an integer"),
])
def test_a_wrong_field_is_named(path, value, message):
    document = sweep()
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=message):
        scaling.validate_sweep(document)


def test_missing_fields_and_unsorted_rows_are_named(tmp_path):
    document = sweep()
    del document["rows"][1]["peak_rss_bytes"]
    with pytest.raises(ValueError, match=r"rows\[1\].peak_rss_bytes is missing"):
        scaling.validate_sweep(document)
    document = sweep([row(10000), row(1000)])
    with pytest.raises(ValueError, match=r"rows\[1\].neurons must grow"):
        scaling.validate_sweep(document)
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        scaling.load_sweep(path)
    path.write_text(json.dumps(sweep()))
    assert scaling.load_sweep(path)["rows"][1]["hidden"] == [10000] * 3


def test_the_fit_recovers_a_power_law_and_its_range():
    c = np.array([1e5, 1e6, 1e7, 1e8])
    fit = scaling.fit_cost(c, 3.0 * c ** 0.25)
    assert fit.a == pytest.approx(3.0) and fit.b == pytest.approx(0.25)
    assert (fit.low, fit.high, fit.n_points) == (1e5, 1e8, 4)
    assert fit.rms_log_error == pytest.approx(0.0, abs=1e-12)
    assert fit.predict(1e10) == pytest.approx(3.0 * 1e10 ** 0.25)
    part = scaling.fit_cost(c, np.array([1.0, 1.0, 2.0, 4.0]), low=1e6)
    assert part.n_points == 3 and part.low == 1e6 and part.b == pytest.approx(math.log10(2))
    flat = scaling.fit_cost([5e5], [0.7])
    assert flat.b == 0 and flat.predict(1e9) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="ns_per_connection_sample must be positive"):
        scaling.fit_cost([1, 2], [1, -1])
    with pytest.raises(ValueError, match="no point in the range"):
        scaling.fit_cost(c, c, low=1e9)


def test_extrapolation_by_hand():
    # Constant cost 2 ns: a sweep with two points at 2 ns.
    document = sweep([row(1000, 2.0), row(100000, 2.0)])
    h = 10000
    out = scaling.extrapolate(784 + 3 * h + 10, document, samples=500, batch_size=10)
    # layers: 784->h (sparse), h->h twice (sparse), h->10 (p = 20 (h+10)/(10 h) >= 1: dense)
    c_in = round(20 * (784 + h))
    c_hh = round(20 * 2 * h)
    dense = 10 * h
    assert out.hidden == h and out.connections == c_in + 2 * c_hh + dense
    sparse_bytes = 20 * (c_in + 2 * c_hh) + 16 * 3 * h + 4 * (784 + 2 * h)
    assert out.model_bytes == sparse_bytes + 12 * (dense + 10)
    sizes = [784, h, h, h, 10]
    # inputs of 4 * 10 * h bytes stay (below 64 MiB): the peak is the backward of layer 2,
    # every input alive beside its delta and input gradient
    assert out.activation_bytes == 4 * 10 * (784 + 3 * h + h + h)
    big = scaling.extrapolate(784 + 3 * 10**6 + 10, document, samples=1, batch_size=128)
    assert big.activation_bytes == 4 * 128 * max(784 + 3 * 10**6 + 10,  # all freed: max over l
                                                 784 + 10**6 + 10**6 + 10**6,
                                                 784 + 2 * 10**6 + 10**6 + 10**6,
                                                 784 + 3 * 10**6 + 10 + 10**6)
    assert out.activation_bytes == memory.activation_peak_bytes(sizes, 10)
    assert out.memory_bytes == out.model_bytes + out.activation_bytes
    assert out.epoch_seconds == pytest.approx(2e-9 * out.connections * 500)
    assert not out.extrapolated or out.range_factor >= 1
    four = scaling.extrapolate(784 + 3 * h + 10, document, samples=500, batch_size=10,
                               workers=4, efficiency=0.5)
    assert four.epoch_seconds == pytest.approx(out.epoch_seconds / 2)
    assert four.memory_bytes == out.memory_bytes  # data parallel: a whole model per worker


def test_layers_past_two_to_the_31_connections_count_int64_indices():
    document = sweep()
    h = 60_000_000  # a hidden->hidden layer of 2.4e9 connections
    out = scaling.extrapolate(784 + 3 * h + 10, document, samples=1, batch_size=1)
    c_in, c_hh = round(20 * (784 + h)), round(20 * 2 * h)
    assert c_hh >= 2**31 > c_in
    expected = (20 * c_in + 16 * h + 4 * 784) + 2 * (24 * c_hh + 20 * h + 8 * h) \
        + 12 * (10 * h + 10)
    assert out.model_bytes == expected
    assert out.extrapolated and out.range_factor > 1000


def test_bad_arguments_are_named():
    document = sweep()
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        scaling.extrapolate(10**6, document, workers=0)
    with pytest.raises(ValueError, match=r"efficiency must be a number in \(0, 1\]"):
        scaling.extrapolate(10**6, document, efficiency=1.5)
    with pytest.raises(ValueError, match="neurons must be a number"):
        scaling.extrapolate(10, document)
    broken = copy.deepcopy(document)
    broken["bytes"]["per_neuron"] = {"output": 1}
    with pytest.raises(ValueError, match="bytes.per_neuron.input is missing"):
        scaling.extrapolate(10**6, broken)
