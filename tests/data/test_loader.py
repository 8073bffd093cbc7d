"""load(): subsets, preprocessing, shapes, system copies, the parsed-array cache, fallback."""
import gzip
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from setcourse.data import DATASETS, DataUnavailableError, Dataset, cache, load
from setcourse.data.loader import balanced_quota


@pytest.fixture
def fashion(make, monkeypatch, isolated_data, closed_port_url):
    """A small Fashion-MNIST look-alike installed as a Debian-style system copy (re-gzipped
    at another level than the registered payloads, as Debian does); downloads impossible."""
    payloads, arrays = make.idx_dataset(per_class_train=12, per_class_test=4)
    spec = make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url,
                             sizes=(120, 40))
    for name, data in payloads.items():
        (isolated_data["system"] / f"{name}.gz").write_bytes(gzip.compress(data, 1, mtime=99))
    return spec, arrays


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="name must be one of fashion_mnist, mnist, cifar10, "
                                         "madelon, coil20, digits; got 'imagenet'"):
        load("imagenet")


@pytest.mark.parametrize("param, value", [("n_train", 121), ("n_train", 0), ("n_test", 41),
                                          ("n_train", 2.5), ("n_test", True)])
def test_subset_sizes_outside_what_is_available_are_refused(fashion, param, value):
    limit = {"n_train": 120, "n_test": 40}[param]
    with pytest.raises(ValueError, match=rf"{param} must be an integer in \[1, {limit}\].*"
                                         rf"got {value!r}"):
        load("fashion_mnist", **{param: value})


def test_n_train_larger_than_the_full_release_fails_before_any_download():
    with pytest.raises(ValueError, match=r"n_train must be an integer in \[1, 60000\]"):
        load("fashion_mnist", n_train=70000)


@pytest.mark.parametrize("kwargs, message", [
    ({"preprocess": "normalise"}, "preprocess must be one of standardize, scale, binarize, None"),
    ({"seed": -1}, "seed must be an integer >= 0"),
])
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load("digits", **kwargs)


def test_system_copy_is_verified_parsed_and_then_cached(fashion):
    spec, arrays = fashion
    first = load("fashion_mnist", preprocess=None)
    assert first.source == "system"
    np.testing.assert_array_equal(first.X_train, arrays["X_train"].reshape(120, -1))
    np.testing.assert_array_equal(first.y_test, arrays["y_test"])
    assert first.X_train.dtype == np.float32 and first.y_train.dtype == np.int64
    assert cache.arrays_dir(spec).is_dir()
    second = load("fashion_mnist", preprocess=None)
    assert second.source == "cache"
    np.testing.assert_array_equal(second.X_train, first.X_train)


def test_setcourse_data_path_folders_and_their_subfolders_are_searched(make, monkeypatch,
                                                                      tmp_path, closed_port_url):
    payloads, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url, sizes=(120, 40))
    shared = tmp_path / "usb" / "fashion-mnist"
    shared.mkdir(parents=True)
    for name, data in payloads.items():
        (shared / name).write_bytes(data)       # uncompressed copies verify as well
    monkeypatch.setenv("SETCOURSE_DATA_PATH", os.pathsep.join([str(tmp_path / "nothing"),
                                                                str(shared.parent)]))
    assert load("fashion_mnist").source == "system"


def test_files_of_another_data_set_in_a_system_folder_are_not_used(make, monkeypatch,
                                                                  isolated_data, closed_port_url):
    payloads, _ = make.idx_dataset(seed=0)
    make.install_spec(monkeypatch, "mnist", payloads, closed_port_url, sizes=(120, 40))
    other, _ = make.idx_dataset(seed=1)          # same file names, different contents
    for name, data in other.items():
        (isolated_data["system"] / f"{name}.gz").write_bytes(make.gz(data))
    with pytest.raises(DataUnavailableError):
        load("mnist")


def test_dataset_metadata_shapes_and_unpacking(fashion):
    ds = load("fashion_mnist", flatten=False)
    assert isinstance(ds, Dataset)
    assert ds.X_train.shape == (120, 28, 28) and ds.X_test.shape == (40, 28, 28)
    assert ds.image_shape == (28, 28) and ds.name == "fashion_mnist" and ds.notice is None
    assert ds.class_names[0] == "T-shirt/top" and ds.n_classes == 10
    X_train, y_train, X_test, y_test = ds
    assert X_train is ds.X_train and y_test is ds.y_test
    assert "fashion_mnist" in repr(ds) and "(120, 28, 28)" in repr(ds)


def test_registered_image_shapes():
    shapes = {name: spec.image_shape for name, spec in DATASETS.items()}
    assert shapes == {"fashion_mnist": (28, 28), "mnist": (28, 28), "cifar10": (32, 32, 3),
                      "madelon": (500,), "coil20": (32, 32), "digits": (8, 8)}


def test_subsets_are_stratified_deterministic_and_in_original_order(fashion):
    a = load("fashion_mnist", n_train=50, n_test=20, seed=3, preprocess=None)
    b = load("fashion_mnist", n_train=50, n_test=20, seed=3, preprocess=None)
    c = load("fashion_mnist", n_train=50, n_test=20, seed=4, preprocess=None)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    assert sorted(np.bincount(a.y_train, minlength=10)) == [5] * 10
    assert np.bincount(a.y_test, minlength=10).tolist() == [2] * 10
    full = load("fashion_mnist", preprocess=None)
    rows = [np.flatnonzero((full.X_train == x).all(axis=1))[0] for x in a.X_train]
    assert rows == sorted(rows)


def test_balanced_quota_spreads_what_small_classes_cannot_give():
    rng = np.random.default_rng(0)
    assert balanced_quota([10, 10, 10], 9, rng).tolist() == [3, 3, 3]
    assert balanced_quota([2, 10, 10], 12, rng).tolist() == [2, 5, 5]
    quota = balanced_quota([5, 5, 5], 7, rng)
    assert quota.sum() == 7 and sorted(quota.tolist()) == [2, 2, 3]
    assert balanced_quota([1, 3], 4, rng).tolist() == [1, 3]


def test_standardisation_uses_training_statistics_only(fashion):
    raw = load("fashion_mnist", preprocess=None)
    ds = load("fashion_mnist", preprocess="standardize")
    mean = raw.X_train.astype(np.float64).mean(axis=0)
    std = raw.X_train.astype(np.float64).std(axis=0)
    assert std[0] == 0                       # the constant pixel: divided by 1, not by 0
    std[std == 0] = 1
    np.testing.assert_allclose(ds.X_train, (raw.X_train - mean) / std, atol=1e-4)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - mean) / std, atol=1e-4)
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_test).all()
    np.testing.assert_allclose(ds.X_train[:, 1:].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X_train[:, 1:].std(axis=0), 1, atol=1e-4)


def test_standardisation_of_a_subset_uses_that_subset(fashion):
    raw = load("fashion_mnist", n_train=30, preprocess=None, seed=1)
    ds = load("fashion_mnist", n_train=30, seed=1, preprocess="standardize")
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    std[std == 0] = 1
    np.testing.assert_allclose(ds.X_test, (raw.X_test - mean) / std, rtol=1e-4, atol=1e-4)


def test_scale_maps_the_pixel_range_to_unit_interval(fashion):
    spec, arrays = fashion
    ds = load("fashion_mnist", preprocess="scale")
    np.testing.assert_allclose(ds.X_train, arrays["X_train"].reshape(120, -1) / 255.0, atol=1e-6)


def test_scale_without_a_fixed_range_uses_training_min_and_max():
    from setcourse.data.loader import _preprocess
    train = np.array([[0, 5, 7], [10, 5, 9]])
    test = np.array([[5, 6, 11]])
    scaled_train, scaled_test = _preprocess(train, test, "scale", None)
    np.testing.assert_allclose(scaled_train, [[0, 0, 0], [1, 0, 1]])
    np.testing.assert_allclose(scaled_test, [[0.5, 1, 2]])


def test_digits_are_always_available_offline():
    ds = load("digits", n_train=100, n_test=50)
    assert ds.source == "bundled" and ds.image_shape == (8, 8)
    assert ds.X_train.shape == (100, 64) and np.bincount(ds.y_train).tolist() == [10] * 10
    full = load("digits", preprocess=None)
    assert full.X_train.shape == (1433, 64) and full.X_test.shape == (364, 64)
    assert full.X_train.max() == 16


def test_offline_without_fallback_names_fetch_and_import(make, monkeypatch, closed_port_url):
    payloads, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url, sizes=(120, 40))
    with pytest.raises(DataUnavailableError) as caught:
        load("fashion_mnist")
    message = str(caught.value)
    assert "python -m setcourse data fetch fashion_mnist" in message
    assert "python -m setcourse data import fashion_mnist DIR" in message
    assert "Connection refused" in message or "refused" in message.lower()


def test_fallback_returns_digits_with_one_visible_line(make, monkeypatch, closed_port_url,
                                                       capsys):
    payloads, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url)
    ds = load("fashion_mnist", n_train=5000, n_test=100, fallback=True)
    assert ds.name == "digits" and ds.source == "bundled"
    assert ds.X_train.shape == (1433, 64) and ds.X_test.shape == (100, 64)
    printed = capsys.readouterr()
    lines = [line for line in printed.err.splitlines() if line.startswith("setcourse:")]
    assert lines == [ds.notice]
    assert "fashion_mnist" in ds.notice and "download of" in ds.notice
    assert ds.notice.endswith("python -m setcourse data fetch fashion_mnist")
    assert "\n" not in ds.notice


def test_fallback_is_not_used_when_the_data_set_is_there(fashion, capsys):
    ds = load("fashion_mnist", fallback=True)
    assert ds.name == "fashion_mnist" and ds.notice is None
    assert "setcourse:" not in capsys.readouterr().err


def test_unreadable_array_cache_is_rebuilt(fashion):
    spec, arrays = fashion
    load("fashion_mnist")
    npy = cache.arrays_dir(spec) / "X_train.npy"
    npy.write_bytes(npy.read_bytes()[:100])
    ds = load("fashion_mnist", preprocess=None)
    assert ds.source == "system"
    np.testing.assert_array_equal(ds.X_train, arrays["X_train"].reshape(120, -1))
    assert load("fashion_mnist").source == "cache"


def test_read_only_cache_still_loads_a_system_copy(fashion, read_only, isolated_data):
    read_only(isolated_data["cache"])
    ds = load("fashion_mnist")
    assert ds.source == "system"
    assert list(isolated_data["cache"].iterdir()) == []


def test_cache_folder_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("SETCOURSE_DATA")
    assert cache.cache_dir() == cache.default_cache_dir()
    assert "setcourse" in str(cache.default_cache_dir())
    monkeypatch.setitem(sys.modules, "platformdirs", None)      # as if it were not installed
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert cache.default_cache_dir() == tmp_path / "setcourse" / "datasets"
    monkeypatch.setenv("SETCOURSE_DATA", "~/somewhere")
    assert cache.cache_dir() == Path("~/somewhere").expanduser()


def test_the_default_preprocessing_scales_to_the_unit_interval(fashion):
    """Scaling, not standardising, is the default: z-scores of rare pixels reach ~185."""
    raw = load("fashion_mnist", preprocess=None)
    ds = load("fashion_mnist")
    np.testing.assert_allclose(ds.X_train, raw.X_train / 255, atol=1e-6)
    assert 0 <= ds.X_train.min() and ds.X_train.max() <= 1


def test_tutorial_subset_is_the_tutorials_legacy_shuffle(fashion):
    """np.random.seed(0); shuffle the train index, then the test index; take the first rows."""
    raw = load("fashion_mnist", preprocess=None)
    ds = load("fashion_mnist", n_train=7, n_test=3, subset="tutorial", preprocess=None)
    np.random.seed(0)
    train = np.arange(len(raw.y_train)); np.random.shuffle(train)
    test = np.arange(len(raw.y_test)); np.random.shuffle(test)
    np.testing.assert_array_equal(ds.X_train, raw.X_train[train[:7]])
    np.testing.assert_array_equal(ds.y_train, raw.y_train[train[:7]])
    np.testing.assert_array_equal(ds.X_test, raw.X_test[test[:3]])
    np.testing.assert_array_equal(ds.y_test, raw.y_test[test[:3]])
    again = load("fashion_mnist", n_train=7, n_test=3, subset="tutorial", preprocess=None)
    np.testing.assert_array_equal(again.X_train, ds.X_train)


@pytest.mark.parametrize("kwargs, message", [
    (dict(subset="first"), "subset must be one of stratified, tutorial"),
    (dict(subset="tutorial", n_train=10 ** 6), r"n_train must be an integer in \[1, "),
])
def test_bad_subsets_are_named(fashion, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load("fashion_mnist", **kwargs)
