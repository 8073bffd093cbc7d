"""Fixtures for every test: data isolation, so that no test touches the internet or the user's cache.

Each test gets its own cache folder and system folder under ``tmp_path``, short download
timeouts, and every registered URL replaced by one on 127.0.0.1 where nothing listens.
"""
import dataclasses
import socket

import pytest

from setcourse.data import download, registry


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: what 'no network' looks like to urllib."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return lambda name: [f"http://127.0.0.1:{port}/{name}.gz"]


# --------------------------------------------------------------------------- isolation

@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch, closed_port_url):
    """Cache and system folders under tmp_path, no proxies, short timeouts, no back-off, and
    every registered URL replaced by one where nothing listens (no test can reach the net)."""
    folders = {"cache": tmp_path / "cache", "system": tmp_path / "system"}
    folders["system"].mkdir()
    monkeypatch.setenv("SETCOURSE_DATA", str(folders["cache"]))
    monkeypatch.delenv("SETCOURSE_DATA_PATH", raising=False)
    monkeypatch.delenv("SETCOURSE_MIRROR", raising=False)  # a developer's room mirror
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(registry, "SYSTEM_DIRS",
                        {name: (str(folders["system"]),) for name in registry.DATASETS})
    monkeypatch.setattr(download, "TIMEOUT", 5.0)
    monkeypatch.setattr(download, "BACKOFF", 0.0)
    for name, spec in list(registry.DATASETS.items()):
        files = tuple(dataclasses.replace(remote, urls=tuple(closed_port_url(remote.name)))
                      for remote in spec.files)
        monkeypatch.setitem(registry.DATASETS, name, dataclasses.replace(spec, files=files))
    return folders


