"""The parsed-array cache is verified before load() serves it (issue 17, item 3): a digest of
every array is recorded when the cache is built and checked on every load and by `data verify`;
labels, dtypes and shapes are checked against the registry; a failing cache is rebuilt from
the verified raw files, or refused with an error naming the file."""
import argparse
import gzip
import json

import numpy as np
import pytest

from setcourse.data import DataUnavailableError, cache, cli, load


@pytest.fixture
def cached(make, monkeypatch, isolated_data, closed_port_url):
    """A small Fashion-MNIST look-alike whose raw files and parsed arrays are in the cache;
    downloads impossible."""
    payloads, arrays = make.idx_dataset()
    spec = make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url,
                             sizes=(120, 40))
    folder = isolated_data["cache"] / "fashion_mnist"
    folder.mkdir(parents=True)
    for name, data in payloads.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(data))
    assert load("fashion_mnist").source == "cache"        # parses and caches the arrays
    assert (cache.arrays_dir(spec) / cache.DIGEST_FILE).is_file()
    return spec, arrays, folder


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01                       # in the body: the header still parses
    path.write_bytes(bytes(data))


def rewrite(path, array, forge_digest=False):
    """Replace a cached array; ``forge_digest`` also records its new digest (a careful forger)."""
    np.save(path, array, allow_pickle=False)
    if forge_digest:
        manifest = path.parent / cache.DIGEST_FILE
        recorded = json.loads(manifest.read_text())
        recorded["arrays"][path.stem][cache.DIGEST] = cache.array_digest(array)
        manifest.write_text(json.dumps(recorded))


def run(*argv):
    parser = argparse.ArgumentParser(prog="setcourse")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return cli.run(parser.parse_args(["data", *argv]))


def test_a_flipped_byte_in_a_cached_array_is_caught_and_rebuilt_from_the_raw_files(cached):
    spec, arrays, _ = cached
    npy = cache.arrays_dir(spec) / "X_train.npy"
    flip_last_byte(npy)
    with pytest.raises(cache.CorruptArraysError, match="X_train.npy") as caught:
        cache.load_arrays(spec, strict=True)
    assert caught.value.file == npy
    ds = load("fashion_mnist", preprocess=None)
    np.testing.assert_array_equal(ds.X_train, arrays["X_train"].reshape(120, -1))
    assert cache.load_arrays(spec, strict=True) is not None    # the rebuilt cache verifies


def test_labels_changed_to_200_are_refused_even_with_a_forged_digest(cached):
    spec, arrays, _ = cached
    npy = cache.arrays_dir(spec) / "y_train.npy"
    bad = arrays["y_train"].copy()
    bad[3] = 200
    rewrite(npy, bad)
    with pytest.raises(cache.CorruptArraysError, match="y_train.npy .*recorded"):
        cache.load_arrays(spec, strict=True)
    rewrite(npy, bad, forge_digest=True)
    with pytest.raises(cache.CorruptArraysError, match=r"y_train.npy holds labels in 0..200; "
                                                       r"fashion_mnist's labels are 0..9"):
        cache.load_arrays(spec, strict=True)
    ds = load("fashion_mnist")
    assert ds.y_train.max() == 9
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])


@pytest.mark.parametrize("change, message", [
    (lambda a: a["X_train"][:, :27], r"X_train.npy holds uint8 of shape \(120, 27, 28\)"),
    (lambda a: a["y_train"][:-1], "y_train.npy holds 119 labels; fashion_mnist has 120"),
    (lambda a: a["y_train"].astype(np.float32), "y_train.npy must hold integer labels"),
    (lambda a: np.full((120, 28, 28), 300, np.int16), r"values in 300..300.* 0..255"),
])
def test_forged_shapes_dtypes_and_ranges_are_checked_against_the_registry(cached, change,
                                                                           message):
    spec, arrays, _ = cached
    bad = change(arrays)
    name = "y_train" if bad.ndim == 1 else "X_train"
    rewrite(cache.arrays_dir(spec) / f"{name}.npy", bad, forge_digest=True)
    with pytest.raises(cache.CorruptArraysError, match=message):
        cache.load_arrays(spec, strict=True)
    assert load("fashion_mnist").X_train.shape == (120, 784)   # rebuilt


def test_a_missing_or_garbled_digest_file_is_a_corrupt_cache(cached):
    spec, _, _ = cached
    manifest = cache.arrays_dir(spec) / cache.DIGEST_FILE
    manifest.write_text("{not json")
    with pytest.raises(cache.CorruptArraysError, match="digest.json is missing or unreadable"):
        cache.load_arrays(spec, strict=True)
    manifest.unlink()
    assert cache.load_arrays(spec) is None


def test_a_corrupt_cache_without_raw_files_is_a_clear_error_naming_the_file(cached):
    spec, _, folder = cached
    for path in folder.glob("*.gz"):
        path.unlink()
    flip_last_byte(cache.arrays_dir(spec) / "X_test.npy")
    with pytest.raises(DataUnavailableError) as caught:
        load("fashion_mnist")
    message = str(caught.value)
    assert "X_test.npy" in message and "removed" in message and "data fetch" in message
    assert not cache.arrays_dir(spec).exists()
    assert "X_test.npy failed its check" in caught.value.reason


def test_a_corrupt_cache_without_raw_files_falls_back_when_asked(cached, capsys):
    spec, _, folder = cached
    for path in folder.glob("*.gz"):
        path.unlink()
    flip_last_byte(cache.arrays_dir(spec) / "X_train.npy")
    ds = load("fashion_mnist", fallback=True)
    assert ds.name == "digits" and "X_train.npy failed its check" in capsys.readouterr().err


def test_verify_catches_a_flipped_byte_in_the_arrays(cached, capsys):
    spec, _, _ = cached
    assert run("verify") == 0
    assert "ok      fashion_mnist: parsed arrays" in capsys.readouterr().out
    flip_last_byte(cache.arrays_dir(spec) / "X_train.npy")
    assert run("verify") == 1
    out = capsys.readouterr().out
    assert "FAILED  fashion_mnist" in out and "X_train.npy" in out and "removed" in out
    assert not cache.arrays_dir(spec).exists()
    assert load("fashion_mnist").source == "cache"             # rebuilt from the raw files


def test_the_digest_covers_dtype_and_shape_not_only_bytes():
    a = np.arange(12, dtype=np.uint8)
    assert cache.array_digest(a) != cache.array_digest(a.reshape(3, 4))
    assert cache.array_digest(a) != cache.array_digest(a.view(np.int8))
    assert cache.array_digest(a) == cache.array_digest(a.copy())
    assert cache.array_digest(np.zeros((0, 3))) != cache.array_digest(np.zeros((3, 0)))


def test_arrays_cached_by_an_older_format_are_removed_when_the_new_ones_are_saved(cached):
    spec, _, folder = cached
    old = folder / "arrays-0123456789ab"                  # e.g. format 1, no digest file
    old.mkdir()
    (old / "X_train.npy").write_bytes(b"old")
    cache.remove_quietly(cache.arrays_dir(spec))
    load("fashion_mnist")
    assert not old.exists() and cache.arrays_dir(spec).is_dir()
