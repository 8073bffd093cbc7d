"""Fixtures for the data tests: generated data-set files (through the ``make`` fixture), a
local HTTP server on 127.0.0.1 started and stopped by each test that uses it (serving those
files plus corrupt, truncated and slow variants), an isolated cache and system folder, and a
read-only folder.

No test touches the internet: every registered URL is replaced by one on this server.
"""
import dataclasses
import errno
import gzip
import hashlib
import io
import json
import os
import socket
import struct
import tarfile
import tempfile
import threading
import types
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from setcourse.data import download, registry


# --------------------------------------------------------------------------- generated files

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def gz(data, level=9):
    """gzip bytes with a fixed mtime (so equal input gives equal output)."""
    return gzip.compress(data, compresslevel=level, mtime=0)


def idx_bytes(array):
    """IDX encoding of a uint8 array (type 0x08)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def idx_dataset(per_class_train=12, per_class_test=4, seed=0):
    """Fashion-MNIST-like payloads (uncompressed IDX) and the arrays they hold.

    Column 0 of every image is 0 so that standardisation meets a constant feature.
    """
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, per_class in (("train", per_class_train), ("test", per_class_test)):
        labels = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), per_class))
        images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
        images[:, 0, 0] = 0
        arrays[f"X_{split}"], arrays[f"y_{split}"] = images, labels
    payloads = dict(zip(IDX_NAMES, (idx_bytes(arrays["X_train"]), idx_bytes(arrays["y_train"]),
                                    idx_bytes(arrays["X_test"]), idx_bytes(arrays["y_test"]))))
    return payloads, arrays


def cifar_records(n, seed):
    """CIFAR-10 binary records for ``n`` random images; returns (bytes, images HWC, labels)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.uint8) % 10
    planes = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1)
    return records.tobytes(), planes.transpose(0, 2, 3, 1), labels


def cifar_archive(per_batch=10, extra_members=()):
    """A cifar-10-binary.tar.gz look-alike; ``extra_members`` are (TarInfo, bytes) to add."""
    buffer = io.BytesIO()
    images, labels = [], []
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        for seed, name in enumerate(names):
            data, batch_images, batch_labels = cifar_records(per_batch, seed)
            images.append(batch_images)
            labels.append(batch_labels)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra_members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    arrays = {"X_train": np.concatenate(images[:5]), "y_train": np.concatenate(labels[:5]),
              "X_test": images[5], "y_test": labels[5]}
    return buffer.getvalue(), arrays


def madelon_payloads(n_train=20, n_test=8, seed=0):
    """Madelon-like text files (500 integer columns, labels -1/+1)."""
    rng = np.random.default_rng(seed)
    arrays, payloads = {}, {}
    for split, part, n in (("train", "train", n_train), ("test", "valid", n_test)):
        X = rng.integers(0, 1000, size=(n, 500))
        y = np.where(np.arange(n) % 2 == 0, -1, 1)
        payloads[f"madelon_{part}.data"] = "".join(
            " ".join(map(str, row)) + " \n" for row in X).encode()
        payloads[f"madelon_{part}.labels"] = "".join(f"{v}\n" for v in y).encode()
        arrays[f"X_{split}"], arrays[f"y_{split}"] = X, (y > 0).astype(np.int64)
    return payloads, arrays


def install_spec(monkeypatch, name, payloads, urls, sizes=None):
    """Register data set ``name`` with the fixture's digests and ``urls(file name)`` as sources."""
    spec = registry.DATASETS[name]
    files = tuple(dataclasses.replace(remote, sha256=(sha256(payloads[remote.name]),),
                                      size=len(payloads[remote.name]), payload_size=None,
                                      urls=tuple(urls(remote.name)))
                  for remote in spec.files)
    spec = dataclasses.replace(spec, files=files, sizes=sizes or spec.sizes)
    monkeypatch.setitem(registry.DATASETS, name, spec)
    return spec


def spec_as_json(spec):
    """What a child process needs to register the same fixture spec (see ``child_script``)."""
    return json.dumps({"name": spec.name, "sizes": spec.sizes,
                       "files": [[f.name, list(f.sha256), list(f.urls)] for f in spec.files]})


CHILD = """
import dataclasses, json, sys
from setcourse.data import download, registry, load
info = json.loads(sys.argv[1])
spec = registry.DATASETS[info["name"]]
files = tuple(dataclasses.replace(f, sha256=tuple(sha), urls=tuple(urls))
              for f, (_, sha, urls) in zip(spec.files, info["files"]))
registry.DATASETS[info["name"]] = dataclasses.replace(spec, files=files, sizes=tuple(info["sizes"]))
download.TIMEOUT = float(sys.argv[2])
ds = load(info["name"])
print(ds.source, ds.X_train.shape[0], flush=True)
"""


def coil20_payload(per_class=3, seed=0, compress=True):
    """A COIL20.mat look-alike (scipy.io.savemat): ``X`` n × 1024 in [0, 1] with each image
    stored column by column as MATLAB does, ``Y`` n × 1 labels 1..20; returns (bytes, images
    upright (n, 32, 32), labels 0..19) in file order."""
    import scipy.io

    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(1, 21, dtype=np.uint8), per_class)
    images = rng.random((len(labels), 32, 32))
    images[:, 0, :] = 0.0                       # a dark top row: upright vs transposed differ
    X = images.transpose(0, 2, 1).reshape(len(labels), 1024)   # column-major, as MATLAB stores
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"X": X, "Y": labels[:, None]}, do_compression=compress)
    return buffer.getvalue(), images, labels - 1


def zip_bytes(members):
    """A zip archive of ``{name: bytes}``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --------------------------------------------------------------------------- the HTTP server

class FixtureServer:
    """HTTP server on 127.0.0.1 serving registered bodies in one of several modes.

    Modes: ``ok``; ``truncated`` (announces the full length, sends half, closes);
    ``slow`` (headers, then silence for ``delay`` seconds); ``stall`` (half the body, then
    silence until the server stops); ``drip`` (one byte every ``delay`` seconds);
    ``header-drip`` (the status line, then one header byte every ``delay`` seconds);
    ``unannounced`` (the whole body without a Content-Length). Unknown paths give 404.
    ``hits`` counts requests per path, ``sent`` the body bytes written per path.
    """

    def __init__(self):
        self.routes = {}
        self.hits = Counter()
        self.sent = Counter()
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] += 1
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                body, mode, delay = server.routes[self.path]
                if mode == "header-drip":          # the status line, then a header byte by byte
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    for _ in range(10_000):
                        if server.stopping.wait(delay):
                            break
                        self.wfile.write(b"a")
                        self.wfile.flush()
                    return
                self.send_response(200)
                if mode != "unannounced":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode in ("ok", "unannounced"):
                    self.wfile.write(body)
                    server.sent[self.path] += len(body)
                elif mode == "drip":
                    for i in range(len(body)):
                        if server.stopping.wait(delay):
                            break
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        server.sent[self.path] += 1
                elif mode == "truncated":
                    self.wfile.write(body[:len(body) // 2])
                elif mode == "slow":
                    self.wfile.flush()
                    server.stopping.wait(delay)
                    self.wfile.write(body)
                elif mode == "stall":
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    server.stopping.wait(delay)
                self.close_connection = True

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up mid-body is expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def serve(self, path, body, mode="ok", delay=30.0):
        """Serve ``body`` at ``/path``; returns its URL."""
        self.routes["/" + path] = (body, mode, delay)
        return self.url(path)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}"

    def close(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_mirror_from_the_environment(monkeypatch):
    """A SETCOURSE_MIRROR set by whoever runs the tests must not reach them."""
    monkeypatch.delenv("SETCOURSE_MIRROR", raising=False)


@pytest.fixture
def server():
    """A fresh local HTTP server, stopped after the test."""
    fixture_server = FixtureServer()
    yield fixture_server
    fixture_server.close()


@pytest.fixture
def read_only(monkeypatch):
    """Make a folder read-only. chmod is enough for normal users; root ignores it, so for root
    file and folder creation inside it is refused the way the OS refuses it (EACCES)."""
    made = []

    def make(folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o555)
        made.append(folder)
        if os.access(folder, os.W_OK) and _can_create(folder):
            _refuse_creation_inside(monkeypatch, folder)
        return folder

    yield make
    for folder in made:
        folder.chmod(0o755)


def _can_create(folder):
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _refuse_creation_inside(monkeypatch, folder):
    folder = str(Path(folder).resolve())

    def inside(path):
        return str(Path(path).resolve()).startswith(folder)

    def refuse(real, path_of):
        def wrapper(*args, **kwargs):
            if inside(path_of(*args, **kwargs)):
                raise PermissionError(errno.EACCES, "Permission denied", path_of(*args, **kwargs))
            return real(*args, **kwargs)
        return wrapper

    def folder_of(*args, **kwargs):
        return kwargs.get("dir", ".")

    monkeypatch.setattr(tempfile, "mkstemp", refuse(tempfile.mkstemp, folder_of))
    monkeypatch.setattr(tempfile, "mkdtemp", refuse(tempfile.mkdtemp, folder_of))
    real_makedirs = os.makedirs

    def makedirs(path, *args, **kwargs):
        if inside(path) and not Path(path).is_dir():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_makedirs(path, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", makedirs)


@pytest.fixture
def make():
    """The file generators and spec helpers above, for tests to call."""
    return types.SimpleNamespace(
        sha256=sha256, gz=gz, idx_bytes=idx_bytes, idx_dataset=idx_dataset,
        cifar_records=cifar_records, cifar_archive=cifar_archive,
        madelon_payloads=madelon_payloads, install_spec=install_spec,
        spec_as_json=spec_as_json, child_script=CHILD, zip_bytes=zip_bytes,
        coil20_payload=coil20_payload,
        IDX_NAMES=IDX_NAMES)
