"""COIL-20 (issue 14): registered like the others, downloaded (here from a local mirror) and
verified, imported from a folder, parsed with scipy.io.loadmat, split as the original SET-RBM
splits it, binarised on request, and replaced by an offline stand-in when it cannot be had.

Every file here is a small synthetic COIL20.mat written by scipy.io.savemat; nothing depends on
a real copy being present."""
import argparse
import io

import numpy as np
import pytest
import scipy.io

from setcourse.data import DataUnavailableError, cache, cli, formats, load, registry


def run(*argv):
    parser = argparse.ArgumentParser(prog="setcourse")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return cli.run(parser.parse_args(["data", *argv]))


@pytest.fixture
def coil(make, monkeypatch, closed_port_url):
    """A 60-image COIL20.mat registered under its digest (40 train / 20 test); no URL works."""
    data, images, labels = make.coil20_payload(per_class=3)
    spec = make.install_spec(monkeypatch, "coil20", {"COIL20.mat": data}, closed_port_url,
                             sizes=(40, 20))
    return spec, data, images, labels


def original_split(n):
    """The original SET-RBM's split, written as it is there (global seed 0, shuffle, 2/3)."""
    state = np.random.get_state()
    try:
        np.random.seed(0)
        indices = np.arange(n)
        np.random.shuffle(indices)
    finally:
        np.random.set_state(state)
    return indices[:int(n * 2 / 3)], indices[int(n * 2 / 3):]


def test_the_registry_pins_the_published_file():
    spec = registry.COIL20                # DATASETS' URLs are replaced in every test
    (remote,) = spec.files
    assert remote.name == "COIL20.mat" and remote.size == 3024549
    assert remote.sha256 == ("4595ebdda07f47b0eb014fcfaddc22b452f9aed9c1d9261a0d5bc336c1ee1344",)
    assert remote.urls[0] == "https://jundongl.github.io/scikit-feature/files/datasets/COIL20.mat"
    assert spec.sizes == (960, 480) and spec.image_shape == (32, 32)
    assert len(spec.class_names) == 20 and spec.value_range == (0, 1)


def test_download_from_a_local_mirror_split_like_the_original(coil, server, monkeypatch):
    spec, data, images, labels = coil
    server.serve("room/COIL20.mat", data)
    monkeypatch.setenv("SETCOURSE_MIRROR", server.url("room/"))
    ds = load("coil20", preprocess=None, flatten=False)
    assert ds.source == "download" and ds.n_classes == 20
    train, test = original_split(60)
    assert ds.X_train.shape == (40, 32, 32) and ds.X_test.shape == (20, 32, 32)
    np.testing.assert_allclose(ds.X_train, images[train], rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, labels[test])
    assert ds.y_train.min() >= 0 and ds.y_train.max() <= 19
    assert (ds.X_train[:, 0, :] == 0).all()                  # upright: the dark row is on top
    server.routes.clear()
    again = load("coil20", preprocess=None)
    assert again.source == "cache" and again.X_train.shape == (40, 1024)
    assert (cache.arrays_dir(spec) / cache.DIGEST_FILE).is_file()


def test_import_from_a_folder_verifies_the_payload(coil, tmp_path, isolated_data, capsys):
    spec, data, _, _ = coil
    usb = tmp_path / "usb" / "coil20"
    usb.mkdir(parents=True)
    (usb / "COIL20.mat").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert run("import", "coil20", str(usb.parent)) == 1
    assert "COIL20.mat" in capsys.readouterr().err and not cache.arrays_dir(spec).exists()
    (usb / "COIL20.mat").write_bytes(data)
    assert run("import", "coil20", str(usb.parent)) == 0
    assert "imported COIL20.mat (verified)" in capsys.readouterr().out
    assert load("coil20").source == "cache"


def test_binarize_gives_zeros_and_ones_for_an_rbm(coil, server, monkeypatch):
    _, data, images, _ = coil
    server.serve("COIL20.mat", data)
    ds = load("coil20", preprocess="binarize", mirror=server.url(""))
    assert ds.X_train.dtype == np.float32 and set(np.unique(ds.X_train)) <= {0.0, 1.0}
    train, _ = original_split(60)
    np.testing.assert_array_equal(ds.X_train, (images[train] >= 0.5).reshape(40, -1))
    scaled = load("coil20", preprocess="scale")
    assert 0 <= scaled.X_train.min() and scaled.X_train.max() <= 1


def test_binarize_works_for_the_image_data_sets():
    ds = load("digits", preprocess="binarize")
    assert set(np.unique(ds.X_train)) == {0.0, 1.0}
    raw = load("digits", preprocess=None)
    np.testing.assert_array_equal(ds.X_train, (raw.X_train / 16 >= 0.5).astype(np.float32))


def test_offline_coil20_falls_back_to_binarised_digits(coil, capsys):
    with pytest.raises(DataUnavailableError, match="data import coil20"):
        load("coil20")
    ds = load("coil20", fallback=True, preprocess="binarize", n_train=30)
    assert ds.name == "digits" and ds.X_train.shape == (30, 64)
    assert set(np.unique(ds.X_train)) == {0.0, 1.0}
    assert "coil20 could not be loaded" in capsys.readouterr().err


def test_offline_coil20_prefers_a_fashion_mnist_copy_on_this_machine(coil, make, monkeypatch,
                                                                     isolated_data, capsys,
                                                                     closed_port_url):
    import gzip
    payloads, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url, sizes=(120, 40))
    for name, data in payloads.items():
        (isolated_data["system"] / f"{name}.gz").write_bytes(gzip.compress(data))
    ds = load("coil20", fallback=True, preprocess="binarize")
    assert ds.name == "fashion_mnist" and ds.X_train.shape == (120, 784)
    assert set(np.unique(ds.X_train)) <= {0.0, 1.0}
    assert "using fashion_mnist (found in the system) instead" in capsys.readouterr().err


def mat_bytes(**variables):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    return buffer.getvalue()


@pytest.mark.parametrize("data, message", [
    (b"<html>portal</html>", "is not a readable MATLAB file"),
    (mat_bytes(fea=np.zeros((4, 1024)), gnd=np.ones((4, 1))), r"lacks the variables X and Y "
                                                              r"\(it holds \['fea', 'gnd'\]\)"),
    (mat_bytes(X=np.zeros((4, 1000)), Y=np.ones((4, 1))), r"X must be numeric n × 1024"),
    (mat_bytes(X=np.full((4, 1024), 2.0), Y=np.ones((4, 1))), r"values in \[0, 1\]"),
    (mat_bytes(X=np.zeros((4, 1024)), Y=np.full((4, 1), 21)), "labels 1..20"),
    (mat_bytes(X=np.zeros((4, 1024)), Y=np.ones((3, 1))), "one label per image"),
])
def test_a_foreign_mat_file_is_refused_with_the_reason(tmp_path, data, message):
    path = tmp_path / "COIL20.mat"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as caught:
        formats.parse_coil20({"COIL20.mat": path})
    assert str(path) in str(caught.value)


def test_the_split_is_the_originals_for_the_full_release():
    train, test = formats.coil20_split(1440)
    expected_train, expected_test = original_split(1440)
    assert len(train) == 960 and len(test) == 480
    np.testing.assert_array_equal(train, expected_train)
    np.testing.assert_array_equal(test, expected_test)


def test_load_searches_a_data_dir_in_place(coil, tmp_path):
    spec, data, images, _ = coil
    usb = tmp_path / "stick"
    (usb / "COIL20").mkdir(parents=True)
    (usb / "COIL20" / "COIL20.mat").write_bytes(data)
    ds = load("coil20", preprocess=None, data_dir=usb)
    assert ds.source == "system" and ds.X_test.shape == (20, 1024)
    assert not (cache.dataset_dir("coil20") / "COIL20.mat").exists()   # used in place
    with pytest.raises(ValueError, match=r"data_dir must be an existing folder .*got 'nowhere'"):
        load("coil20", data_dir="nowhere")
