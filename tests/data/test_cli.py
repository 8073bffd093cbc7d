"""The instructor's `data` commands, driven through their own argparse parser."""
import argparse
import gzip

import pytest

from setcourse.data import cache, cli, load


def run(*argv):
    """Parse and run ``setcourse data ARGV`` the way the main CLI will."""
    parser = argparse.ArgumentParser(prog="setcourse")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *argv])
    assert args.func is cli.run
    return cli.run(args)


@pytest.fixture
def served(make, monkeypatch, server):
    """Every remote data set generated and served by the local server."""
    idx, _ = make.idx_dataset()
    mnist, _ = make.idx_dataset(seed=5)
    madelon, _ = make.madelon_payloads()
    archive, _ = make.cifar_archive(per_batch=2)
    coil, _, _ = make.coil20_payload(per_class=3)
    payloads = {"fashion_mnist": idx, "mnist": mnist, "madelon": madelon,
                "cifar10": {"cifar-10-binary.tar.gz": archive}, "coil20": {"COIL20.mat": coil}}
    sizes = {"fashion_mnist": (120, 40), "mnist": (120, 40), "madelon": (20, 8),
             "cifar10": (10, 2), "coil20": (40, 20)}
    for name, files in payloads.items():
        for file, data in files.items():
            body = make.gz(data) if name in ("fashion_mnist", "mnist") else data
            server.serve(f"{name}/{file}", body)
        make.install_spec(monkeypatch, name, files, lambda f, n=name: [server.url(f"{n}/{f}")],
                          sizes=sizes[name])
    return payloads


def test_list_reports_status_source_and_size(make, monkeypatch, isolated_data, capsys):
    idx, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", idx, lambda f: [f"http://127.0.0.1:9/{f}"])
    for name, data in idx.items():
        (isolated_data["system"] / f"{name}.gz").write_bytes(gzip.compress(data))
    assert run("list") == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "verified" in rows["fashion_mnist"] and f"system: {isolated_data['system']}" in out
    assert "not downloaded" in rows["mnist"] and "11.6 MB to download" in rows["mnist"]
    assert "bundled" in rows["digits"]
    assert f"cache folder: {isolated_data['cache']}" in out


def test_list_flags_a_corrupt_cached_file(make, monkeypatch, isolated_data, capsys):
    idx, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", idx, lambda f: [f"http://127.0.0.1:9/{f}"])
    folder = isolated_data["cache"] / "fashion_mnist"
    folder.mkdir(parents=True)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(make.gz(b"wrong"))
    assert run("list") == 0
    out = capsys.readouterr().out
    assert "FAILED checksum" in out and make.sha256(b"wrong") in out
    assert (folder / "train-labels-idx1-ubyte.gz").exists()   # list never deletes


def test_fetch_downloads_verifies_and_prepares_arrays(served, capsys):
    assert run("fetch", "fashion_mnist") == 0
    captured = capsys.readouterr()
    assert "fashion_mnist: downloaded and verified" in captured.out
    assert "downloading train-images-idx3-ubyte" in captured.err      # stderr is not a TTY
    assert "\r" not in captured.err
    assert load("fashion_mnist").source == "cache"
    assert run("fetch", "fashion_mnist") == 0
    assert "fashion_mnist: verified" in capsys.readouterr().out


def test_fetch_all_gets_every_remote_data_set(served, capsys):
    assert run("fetch", "all") == 0
    out = capsys.readouterr().out
    for name in ("fashion_mnist", "mnist", "cifar10", "madelon", "coil20"):
        assert f"{name}: downloaded and verified" in out
    assert load("cifar10", preprocess=None).source == "cache"


def test_fetch_offline_fails_with_the_reason(capsys):
    assert run("fetch", "all") == 1
    err = capsys.readouterr().err
    for name in ("fashion_mnist", "mnist", "cifar10", "madelon", "coil20"):
        assert f"{name}: could not download" in err
    assert "data import" in err


def test_fetch_rejects_unknown_names():
    with pytest.raises(SystemExit) as caught:
        run("fetch", "imagenet")
    assert caught.value.code == 2


def test_import_copies_verified_files_into_the_cache(make, monkeypatch, tmp_path, isolated_data,
                                                     capsys):
    idx, arrays = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", idx, lambda f: [f"http://127.0.0.1:9/{f}"],
                      sizes=(120, 40))
    usb = tmp_path / "usb"
    (usb / "fashion-mnist").mkdir(parents=True)
    for name, data in idx.items():
        (usb / "fashion-mnist" / f"{name}.gz").write_bytes(gzip.compress(data, 3))
    assert run("import", "fashion_mnist", str(usb)) == 0
    assert capsys.readouterr().out.count("(verified)") == 4
    cached = sorted(p.name for p in (isolated_data["cache"] / "fashion_mnist").glob("*.gz"))
    assert cached == sorted(f"{name}.gz" for name in idx)
    ds = load("fashion_mnist", preprocess=None)
    assert ds.source == "cache" and ds.X_train.shape == (120, 784)


def test_import_refuses_a_folder_with_a_wrong_file_and_copies_nothing(make, monkeypatch, tmp_path,
                                                                      isolated_data, capsys):
    idx, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", idx, lambda f: [f"http://127.0.0.1:9/{f}"])
    usb = tmp_path / "usb"
    usb.mkdir()
    for name, data in idx.items():
        (usb / name).write_bytes(data if "t10k-images" not in name else data[:-1] + b"\x01")
    assert run("import", "fashion_mnist", str(usb)) == 1
    err = capsys.readouterr().err
    assert "t10k-images-idx3-ubyte" in err and "expected" in err
    assert not (isolated_data["cache"] / "fashion_mnist").exists()
    assert run("import", "fashion_mnist", str(tmp_path / "nowhere")) == 1
    assert "DIR must be an existing folder" in capsys.readouterr().err


def test_verify_reports_and_removes_corrupt_cached_files(served, isolated_data, capsys):
    assert run("fetch", "fashion_mnist") == 0
    assert run("verify") == 0
    out = capsys.readouterr().out
    assert out.count("ok      fashion_mnist") == 5 and "missing mnist" in out   # 4 files, arrays
    bad = isolated_data["cache"] / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"bad"))
    npy = cache.arrays_dir(cache.registry.DATASETS["fashion_mnist"]) / "y_test.npy"
    npy.write_bytes(b"not numpy")
    assert run("verify") == 1
    out = capsys.readouterr().out
    assert "FAILED  fashion_mnist" in out and "removed" in out
    assert not bad.exists() and not npy.parent.exists()


def test_standalone_main_runs_a_command(capsys):
    assert cli.main(["list"]) == 0
    assert "digits" in capsys.readouterr().out
