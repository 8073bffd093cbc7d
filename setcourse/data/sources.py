"""Getting a data set's arrays: parsed cache, then verified files in the cache or a system
folder, then a download; and the instructor's import of files from a folder.

A local mirror (an instructor's laptop serving the files to a room) is tried before the
registered URLs: ``mirror=`` or the ``SETCOURSE_MIRROR`` environment variable, one base URL or
several separated by commas or spaces. A file is looked up there by its published file name,
``BASE/NAME.gz`` and ``BASE/NAME`` (e.g. ``train-images-idx3-ubyte.gz``, ``COIL20.mat``), then
in sub-folders named after the data set (``BASE/fashion_mnist/``, ``BASE/fashion-mnist/``, ...),
so ``python -m http.server`` in a folder laid out like ``data import`` expects will do; what
it serves is verified against the registered sha256 like any other download.
"""
import os
import re
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from . import cache
from .checksum import is_gzip, sha256_of
from .download import Downloader, check_timeout
from .errors import ChecksumError, DataUnavailableError

MIRROR_ENV = "SETCOURSE_MIRROR"
MIRROR_SCHEMES = ("http", "https", "file")
ARCHIVE_SLACK = 2.0        # an archive of a data set's files is at most twice their total size


def mirror_bases(mirror=None):
    """The base URLs of ``mirror`` (a string or a list of strings), else of $SETCOURSE_MIRROR;
    each ends with ``/``. Raises ValueError naming the parameter for anything but http(s) or
    file URLs."""
    name = "mirror"
    if mirror is None:
        mirror, name = os.environ.get(MIRROR_ENV, ""), MIRROR_ENV
    if isinstance(mirror, str):
        items = [item for item in re.split(r"[,\s]+", mirror) if item]
    elif isinstance(mirror, (list, tuple)) and all(isinstance(item, str) for item in mirror):
        items = list(mirror)
    else:
        raise ValueError(f"{name} must be a URL or a list of URLs (http://, https:// or "
                         f"file://); got {mirror!r}")
    bases = []
    for item in items:
        parsed = urllib.parse.urlparse(item)
        if parsed.scheme not in MIRROR_SCHEMES or not (parsed.netloc or parsed.scheme == "file"):
            raise ValueError(f"{name} must hold URLs starting with http://, https:// or "
                             f"file:// (e.g. http://192.168.1.10:8000/); got {item!r}")
        bases.append(item if item.endswith("/") else item + "/")
    return bases


def mirror_urls(spec, remote, mirror=None):
    """Where a local mirror may hold ``remote``: each base, then its sub-folders named after
    the data set (``spec.name`` and the usual ``folder_names``, e.g. ``fashion-mnist/``),
    under every file name a copy may have (``NAME.gz``, ``NAME``)."""
    names = [urllib.parse.quote(name) for name in remote.candidates()]
    subs = ["", *dict.fromkeys(urllib.parse.quote(sub) + "/"
                               for sub in (spec.name, *spec.folder_names))]
    return [base + sub + name for base in mirror_bases(mirror) for sub in subs for name in names]


@dataclass
class FileCheck:
    """The outcome of looking for one pinned file in one folder."""

    remote: object
    path: Path = None
    origin: str = None         # "cache", "system" or "import"
    ok: bool = False
    problem: str = None        # why a file found there was not accepted


def check_file(remote, path, origin, remove_bad=False, dataset=None):
    """Verify ``path`` against ``remote``'s pinned digests; optionally delete a bad file."""
    try:
        actual = sha256_of(path, decompress=not remote.whole_file)
    except ValueError as error:            # a truncated or corrupt gzip
        problem = f"{error}; the file was removed" if remove_bad else str(error)
    except OSError as error:
        return FileCheck(remote, path, origin, problem=f"{path} could not be read ({error})")
    else:
        if actual in remote.sha256:
            return FileCheck(remote, path, origin, ok=True)
        problem = str(ChecksumError(path, actual, remote.sha256, origin, removed=remove_bad,
                                    dataset=dataset))
    if remove_bad:
        cache.remove_quietly(path)
    return FileCheck(remote, path, origin, problem=problem)


def find_file(remote, folders, origin, remove_bad=False, dataset=None):
    """The first verified copy of ``remote`` in ``folders`` (a FileCheck; ``ok`` False if none)."""
    problems = []
    for folder in folders:
        for name in remote.candidates():
            path = Path(folder) / name
            if path.is_file():
                check = check_file(remote, path, origin, remove_bad, dataset)
                if check.ok:
                    return check
                problems.append(check.problem)
    return FileCheck(remote, origin=origin, problem="; ".join(problems) or None)


def locate(spec, data_dir=None):
    """``({file name: FileCheck}, problems)`` for the verified copies in the cache or system
    folders (``data_dir`` first among those). A cached file that fails its checksum is deleted
    (the cache is ours to repair)."""
    found, problems = {}, []
    cached_folder = [cache.dataset_dir(spec.name)]
    system = cache.system_folders(spec, first=_folders(data_dir))
    for remote in spec.files:
        check = find_file(remote, cached_folder, "cache", remove_bad=True, dataset=spec.name)
        if not check.ok:
            if check.problem:
                problems.append(check.problem)
            check = find_file(remote, system, "system", dataset=spec.name)
        if check.ok:
            found[remote.name] = check
    return found, problems


def check_data_dir(data_dir):
    """Raise ValueError unless ``data_dir`` is None or an existing folder."""
    if data_dir is not None and not (isinstance(data_dir, (str, os.PathLike))
                                     and Path(data_dir).expanduser().is_dir()):
        raise ValueError(f"data_dir must be an existing folder holding the published files; "
                         f"got {data_dir!r}")


def _folders(data_dir):
    return () if data_dir is None else (Path(data_dir).expanduser(),)


def ensure_files(spec, stream=None, timeout=None, retries=None, mirror=None, data_dir=None):
    """``({file name: path}, origins)``: a verified copy of every file of ``spec``, downloading
    into the cache whatever is neither cached nor in a system folder (from ``mirror`` or
    $SETCOURSE_MIRROR first, then the registered URLs).

    ``origins`` is the set of "cache", "system" and "download" that contributed. Raises
    DataUnavailableError when a file cannot be had, ValueError for a bad ``timeout``
    (seconds > 0), ``mirror`` or ``data_dir`` (an existing folder searched before the system
    folders).
    """
    check_timeout(timeout)
    mirror_bases(mirror)
    check_data_dir(data_dir)
    found, problems = locate(spec, data_dir)
    missing = [remote for remote in spec.files if remote.name not in found]
    origins = {check.origin for check in found.values()}
    paths = {name: check.path for name, check in found.items()}
    if not missing:
        return paths, origins
    folder = cache.dataset_dir(spec.name)
    if not cache.is_writable(folder):
        raise DataUnavailableError(
            f"{spec.name} must be downloaded, but the cache folder {folder} is not writable. "
            f"Set SETCOURSE_DATA to a writable folder and fetch it with `python -m setcourse "
            f"data fetch {spec.name}`, or list a folder holding its files in "
            f"SETCOURSE_DATA_PATH (`python -m setcourse data import {spec.name} DIR` copies "
            f"them into a writable cache).",
            dataset=spec.name, reason=f"the cache folder {folder} is not writable")
    archive_cap = int(ARCHIVE_SLACK * sum(remote.max_bytes or 0 for remote in spec.files)) or None
    with Downloader(folder, spec.name, timeout=timeout, retries=retries, stream=stream,
                    archive_max_bytes=archive_cap) as downloader:
        for remote in missing:
            urls = [*mirror_urls(spec, remote, mirror), *remote.urls]
            try:
                paths[remote.name] = downloader.fetch(remote, urls)
            except DataUnavailableError as error:
                if problems:
                    error.args = (f"{error.args[0]} Earlier: {'; '.join(problems)}",)
                raise
    return paths, origins | {"download"}


def obtain_arrays(spec, stream=None, timeout=None, retries=None, mirror=None, download=True,
                  data_dir=None):
    """``(arrays, source)``: the raw arrays of ``spec`` and where they came from.

    ``source`` is "bundled", "cache" (parsed arrays or verified files in the cache), "system"
    (a verified system copy) or "download". Cached parsed arrays are verified against the
    digests recorded with them and against the registry; ones that fail are removed and
    rebuilt from the verified raw files. ``download=False``: only what is on this machine.
    Raises DataUnavailableError when none works.
    """
    if not spec.files:
        return spec.parse({}), "bundled"
    check_timeout(timeout)
    mirror_bases(mirror)
    check_data_dir(data_dir)
    corrupt = None
    try:
        arrays = cache.load_arrays(spec, strict=True)
    except cache.CorruptArraysError as error:
        corrupt = error
        cache.remove_quietly(cache.arrays_dir(spec))
    else:
        if arrays is not None:
            return arrays, "cache"
    try:
        if download:
            paths, origins = ensure_files(spec, stream, timeout, retries, mirror, data_dir)
        else:
            found, _ = locate(spec, data_dir)
            if len(found) < len(spec.files):
                raise DataUnavailableError(f"{spec.name} is not on this machine",
                                           dataset=spec.name, reason="not on this machine")
            paths = {name: check.path for name, check in found.items()}
            origins = {check.origin for check in found.values()}
    except DataUnavailableError as error:
        if corrupt is None:
            raise
        raise DataUnavailableError(
            f"the cached arrays of {spec.name} failed their check and were removed ({corrupt}); "
            f"they cannot be rebuilt because the raw files are missing: {error}",
            dataset=spec.name, reason=f"{Path(corrupt.file).name} failed its check") from error
    arrays = parse_checked(spec, paths)
    cache.save_arrays(spec, arrays)
    source = next(origin for origin in ("download", "system", "cache") if origin in origins)
    return arrays, source


def parse_checked(spec, paths):
    """``spec.parse(paths)``, checked against the registry (shapes, label range, sizes)."""
    arrays = spec.parse(paths)
    try:
        cache.check_arrays(spec, arrays)
    except cache.CorruptArraysError as error:
        raise DataUnavailableError(
            f"{spec.name}'s verified files parse into arrays that disagree with the registry: "
            f"{error}", dataset=spec.name, reason="parsed arrays disagree with the registry") \
            from error
    return arrays


def import_folder(spec, folder):
    """Copy ``spec``'s files from ``folder`` (e.g. a USB stick) into the cache, each verified
    before it is accepted; returns the cached paths. Nothing is copied unless all verify."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"DIR must be an existing folder; got {str(folder)!r}")
    if not spec.files:
        raise ValueError(f"{spec.name} is bundled with setcourse; there is nothing to import")
    folders = [folder, *(folder / sub for sub in spec.folder_names)]
    checks = [find_file(remote, folders, "import", dataset=spec.name) for remote in spec.files]
    bad = [check for check in checks if not check.ok]
    if bad:
        lines = [check.problem or f"{check.remote.name} (or .gz) not found in "
                 f"{', '.join(map(str, folders))}" for check in bad]
        raise DataUnavailableError(f"cannot import {spec.name}: " + "; ".join(lines),
                                   dataset=spec.name, reason="import failed")
    target = cache.dataset_dir(spec.name)
    imported = []
    for check in checks:
        compressed = not check.remote.whole_file and is_gzip(check.path)
        final = target / (check.remote.name + (".gz" if compressed else ""))
        with cache.atomic_file(final) as temp:
            shutil.copyfile(check.path, temp)
            # Verify the copy itself: a flaky USB stick can hand over different bytes twice.
            copied = check_file(check.remote, temp, "import", dataset=spec.name)
            if not copied.ok:
                raise DataUnavailableError(f"cannot import {spec.name}: {copied.problem}",
                                           dataset=spec.name, reason="import failed")
        imported.append(final)
    return imported


def file_report(spec):
    """One FileCheck per pinned file: the verified cached copy, else the verified system copy,
    else what is wrong with the cached one (``problem`` None when simply absent).

    A system folder's non-matching files are not reported: such folders may hold another data
    set's files under the same names (MNIST and Fashion-MNIST share them). Nothing is deleted.
    """
    report = []
    for remote in spec.files:
        cached = find_file(remote, [cache.dataset_dir(spec.name)], "cache", dataset=spec.name)
        if not cached.ok:
            system = find_file(remote, cache.system_folders(spec), "system", dataset=spec.name)
            if system.ok:
                cached = system
        report.append(cached)
    return report
