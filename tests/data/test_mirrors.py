"""Mirrors that misbehave and mirrors an instructor runs (issue 17, items 4 and 8): a non-archive
at a ``#member`` URL is a failed mirror, downloads have a size and a total-time cap, zip members
are streamed, timeouts are validated; SETCOURSE_MIRROR / ``mirror=`` put a local mirror first."""
import argparse
import math
import time
import zipfile

import numpy as np
import pytest

from setcourse.data import DataUnavailableError, archives, cli, download, load, registry, sources
from setcourse.data.registry import RemoteFile

HTML = b"<!DOCTYPE html><html><body>Please log in to the campus Wi-Fi</body></html>\n" * 20


def run(*argv):
    parser = argparse.ArgumentParser(prog="setcourse")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return cli.run(parser.parse_args(["data", *argv]))


def madelon_zip(make):
    payloads, arrays = make.madelon_payloads()
    members = {("MADELON/" if name != "madelon_valid.labels" else "") + name: data
               for name, data in payloads.items()}
    return payloads, arrays, make.zip_bytes(members)


def install_madelon(make, monkeypatch, server, payloads, zips):
    """Register Madelon with one ``#member`` URL per zip path in ``zips`` (in that order)."""
    def urls(name):
        member = ("MADELON/" if name != "madelon_valid.labels" else "") + name
        return [server.url(path) + "#" + member for path in zips]
    return make.install_spec(monkeypatch, "madelon", payloads, urls, sizes=(20, 8))


# --------------------------------------------------------------------------- item 4

@pytest.mark.parametrize("bad", ["html", "truncated zip", "empty"])
def test_a_non_archive_at_a_member_url_is_a_failed_mirror_and_the_next_is_used(
        make, monkeypatch, server, bad):
    payloads, arrays, archive = madelon_zip(make)
    body = {"html": HTML, "truncated zip": archive[:len(archive) // 2], "empty": b""}[bad]
    server.serve("portal/madelon.zip", body)
    server.serve("good/madelon.zip", archive)
    install_madelon(make, monkeypatch, server, payloads, ["portal/madelon.zip", "good/madelon.zip"])
    ds = load("madelon", preprocess=None)
    assert ds.source == "download"
    np.testing.assert_array_equal(ds.X_train, arrays["X_train"])
    assert server.hits["/portal/madelon.zip"] >= 1 and server.hits["/good/madelon.zip"] == 1


def test_fetch_with_only_a_captive_portal_fails_cleanly(make, monkeypatch, server, capsys,
                                                       isolated_data):
    payloads, _, _ = madelon_zip(make)
    server.serve("portal/madelon.zip", HTML)
    install_madelon(make, monkeypatch, server, payloads, ["portal/madelon.zip"])
    assert run("fetch", "madelon") == 1
    err = capsys.readouterr().err
    assert "madelon: could not download" in err
    assert "not a readable zip or tar archive (it looks like an HTML page)" in err
    assert "Traceback" not in err
    assert [p for p in (isolated_data["cache"] / "madelon").iterdir()] == []


def test_an_oversized_body_is_refused_from_its_content_length(make, server, tmp_path):
    url = server.serve("labels", b"x" * 3_000_000)            # 3 MB for a 5 KB file
    remote = RemoteFile("labels", ("0" * 64,), 5000, (url,), whole_file=True)
    with download.Downloader(tmp_path / "dl", "test", retries=0) as downloader:
        with pytest.raises(DataUnavailableError, match="announces 3000000 bytes, more than "
                                                       "the 1054826 this file can have"):
            downloader.fetch(remote)
    assert list((tmp_path / "dl").iterdir()) == []


def test_an_oversized_body_without_content_length_is_cut_off(make, server, tmp_path):
    url = server.serve("labels", b"x" * 3_000_000, mode="unannounced")
    remote = RemoteFile("labels", ("0" * 64,), 5000, (url,), whole_file=True)
    with download.Downloader(tmp_path / "dl", "test", retries=0) as downloader:
        with pytest.raises(DataUnavailableError, match="more than 1054826 bytes received"):
            downloader.fetch(remote)
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_byte_a_second_drip_times_out_in_total(make, monkeypatch, server, tmp_path):
    monkeypatch.setattr(download, "MIN_TOTAL_SECONDS", 1.0)
    monkeypatch.setattr(download, "MIN_RATE", 1e12)
    url = server.serve("drip", b"y" * 1000, mode="drip", delay=0.1)   # idle timeout is 5 s
    remote = RemoteFile("drip", ("0" * 64,), 1000, (url,), whole_file=True)
    start = time.monotonic()
    with download.Downloader(tmp_path / "dl", "test", retries=0) as downloader:
        with pytest.raises(DataUnavailableError, match="timed out: .* bytes in 1 s"):
            downloader.fetch(remote)
    assert time.monotonic() - start < 4
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_server_dripping_its_headers_times_out_in_total(make, monkeypatch, server, tmp_path):
    monkeypatch.setattr(download, "MIN_TOTAL_SECONDS", 1.0)
    monkeypatch.setattr(download, "MIN_RATE", 1e12)
    url = server.serve("slow-headers", b"", mode="header-drip", delay=0.1)
    remote = RemoteFile("slow-headers", ("0" * 64,), 1000, (url,), whole_file=True)
    start = time.monotonic()
    with download.Downloader(tmp_path / "dl", "test", retries=0) as downloader:
        with pytest.raises(DataUnavailableError, match="timed out: 0 bytes in 1 s"):
            downloader.fetch(remote)
    assert time.monotonic() - start < 4


def test_the_time_cap_grows_with_the_file_size():
    assert download.time_limit(None) == download.MIN_TOTAL_SECONDS
    cifar = registry.DATASETS["cifar10"].files[0]
    assert download.time_limit(cifar.max_bytes) == cifar.max_bytes / download.MIN_RATE


def test_size_caps_come_from_the_registry_with_slack():
    images = registry.FASHION_MNIST.files[0]
    assert images.payload_size == 47_040_016         # a mirror may serve it uncompressed
    assert images.max_bytes == int(47_040_016 * 1.25) + (1 << 20)
    labels = registry.MADELON.files[1]
    assert labels.max_bytes == int(5000 * 1.25) + (1 << 20)
    assert RemoteFile("x", (), 0, ()).max_bytes is None


def test_a_zip_member_is_streamed_to_disk_not_read_whole(make, monkeypatch, tmp_path):
    data = np.random.default_rng(0).bytes(3 << 20)
    path = tmp_path / "a.zip"
    path.write_bytes(make.zip_bytes({"dir/big.bin": data}))

    def refuse(*args, **kwargs):
        raise AssertionError("ZipFile.read holds the whole member in memory")

    monkeypatch.setattr(zipfile.ZipFile, "read", refuse)
    out = tmp_path / "out"
    assert archives.copy_member(path, "dir/big.bin", out) == (len(data), make.sha256(data))
    assert out.read_bytes() == data
    with pytest.raises(archives.TooLargeError, match="more than 1000 bytes"):
        archives.copy_member(path, "dir/big.bin", out, max_bytes=1000)


def test_a_tar_member_is_streamed_too(make, tmp_path):
    data, arrays = make.cifar_archive(per_batch=2)
    path = tmp_path / "c.tar.gz"
    path.write_bytes(data)
    n, digest = archives.copy_member(path, "cifar-10-batches-bin/test_batch.bin", tmp_path / "o")
    assert n == 2 * 3073 and digest == make.sha256((tmp_path / "o").read_bytes())
    with pytest.raises(archives.NotAnArchiveError):
        (tmp_path / "html").write_bytes(HTML)
        archives.copy_member(tmp_path / "html", "x", tmp_path / "o")


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, "5", True])
def test_a_bad_timeout_is_a_value_error_naming_it(make, tmp_path, timeout):
    message = rf"timeout must be a number in \(0, inf\); got {timeout!r}"
    with pytest.raises(ValueError, match=message):
        download.Downloader(tmp_path, "test", timeout=timeout)
    with pytest.raises(ValueError, match=message):
        sources.ensure_files(registry.DATASETS["madelon"], timeout=timeout)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon"])
def test_a_bad_timeout_on_the_command_line_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as caught:
        run("fetch", "madelon", "--timeout", value)
    assert caught.value.code == 2
    assert f"must be a number of seconds in (0, inf); got {value!r}" in capsys.readouterr().err


# --------------------------------------------------------------------------- item 8

def serve_room_mirror(make, server, payloads, prefix="room/"):
    for name, data in payloads.items():
        server.serve(f"{prefix}{name}.gz", make.gz(data))
    return server.url(prefix.split("/")[0])


def test_setcourse_mirror_is_tried_first_for_every_data_set(make, monkeypatch, server,
                                                            closed_port_url):
    payloads, arrays = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url, sizes=(120, 40))
    monkeypatch.setenv("SETCOURSE_MIRROR", serve_room_mirror(make, server, payloads))
    ds = load("fashion_mnist", preprocess=None)
    assert ds.source == "download"
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    assert server.hits["/room/train-images-idx3-ubyte.gz"] == 1


def test_a_mirror_may_keep_each_data_set_in_its_own_folder(make, monkeypatch, server,
                                                           closed_port_url):
    payloads, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "mnist", payloads, closed_port_url, sizes=(120, 40))
    base = serve_room_mirror(make, server, payloads, prefix="share/mnist/")
    assert load("mnist", mirror=base + "/").source == "download"
    assert server.hits["/share/mnist/t10k-labels-idx1-ubyte.gz"] == 1


def test_a_mirror_with_wrong_files_falls_back_to_the_published_urls(make, monkeypatch, server):
    payloads, _ = make.idx_dataset()
    for name, data in payloads.items():
        server.serve(f"official/{name}.gz", make.gz(data))
        server.serve(f"room/{name}.gz", make.gz(data + b"tampered"))
    make.install_spec(monkeypatch, "fashion_mnist", payloads,
                      lambda f: [server.url(f"official/{f}.gz")], sizes=(120, 40))
    assert load("fashion_mnist", mirror=server.url("room")).source == "download"
    assert server.hits["/room/train-images-idx3-ubyte.gz"] == 1
    assert server.hits["/official/train-images-idx3-ubyte.gz"] == 1


def test_several_mirrors_and_the_order_of_urls(make):
    spec = registry.DATASETS["coil20"]
    urls = sources.mirror_urls(spec, spec.files[0], "http://a:8000, http://b/x/")
    assert urls[:4] == ["http://a:8000/COIL20.mat.gz", "http://a:8000/COIL20.mat",
                        "http://a:8000/coil20/COIL20.mat.gz", "http://a:8000/coil20/COIL20.mat"]
    assert "http://a:8000/coil-20/COIL20.mat" in urls[:8]       # the usual folder names too
    assert urls[8] == "http://b/x/COIL20.mat.gz" and len(urls) == 16
    assert sources.mirror_urls(spec, spec.files[0]) == []


@pytest.mark.parametrize("mirror", ["ftp://host/", "192.168.1.10:8000", "http://", 42])
def test_a_bad_mirror_names_the_parameter_and_the_value(mirror, monkeypatch):
    with pytest.raises(ValueError, match=r"mirror must .*http://, https:// or file://.*got"):
        load("digits", mirror=mirror)
    if isinstance(mirror, str):
        monkeypatch.setenv("SETCOURSE_MIRROR", mirror)
        with pytest.raises(ValueError, match=r"SETCOURSE_MIRROR must .*got"):
            load("digits")


def test_fetch_takes_a_mirror_on_the_command_line(make, monkeypatch, server, closed_port_url,
                                                  capsys):
    payloads, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url, sizes=(120, 40))
    base = serve_room_mirror(make, server, payloads)
    assert run("fetch", "fashion_mnist", "--mirror", base) == 0
    assert "fashion_mnist: downloaded and verified" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        run("fetch", "fashion_mnist", "--mirror", "ftp://nope")
    assert caught.value.code == 2


def test_a_file_url_mirror_works_for_a_folder(make, monkeypatch, tmp_path, closed_port_url):
    payloads, _ = make.idx_dataset()
    make.install_spec(monkeypatch, "fashion_mnist", payloads, closed_port_url, sizes=(120, 40))
    for name, data in payloads.items():
        (tmp_path / f"{name}.gz").write_bytes(make.gz(data))
    assert load("fashion_mnist", mirror=tmp_path.as_uri()).source == "download"

