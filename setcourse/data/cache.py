"""Where data sets live on disk: the cache folder, system copies, atomic writes, parsed arrays.

Nothing half-written is ever visible: files and array folders are written under a hidden
``.partial-`` name in the same folder and renamed into place (``os.replace``) once complete,
so a crash, a Ctrl-C or a second process loading at the same time can only leave a stale
temporary behind, never a wrong file.
"""
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .._atomic import (PARTIAL_PREFIX, atomic_file, make_folder, publish, remove_quietly,
                      temp_file)
from . import registry

STALE_SECONDS = 3600
ARRAY_FORMAT = 2          # 2: a digest of every array in DIGEST_FILE (format 1 had none)
ARRAY_NAMES = ("X_train", "y_train", "X_test", "y_test")
DIGEST_FILE = "digest.json"
DIGEST = "sha256"         # 29 ms for Fashion-MNIST's 47 MB X_train here (SHA-NI), blake2b 61 ms


class CorruptArraysError(ValueError):
    """Cached parsed arrays fail their digest or the registry's shapes, dtypes or labels.

    ``file`` is the offending file (an ``.npy`` or the digest file).
    """

    def __init__(self, message, file):
        super().__init__(message)
        self.file = file


def default_cache_dir():
    """The platform's per-user cache folder for setcourse's data sets."""
    try:
        from platformdirs import user_cache_dir
    except ImportError:
        return _fallback_cache_dir() / "datasets"
    return Path(user_cache_dir("setcourse", appauthor=False)) / "datasets"


def _fallback_cache_dir():
    """The per-user cache folder by each platform's convention, without platformdirs."""
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / \
            "setcourse" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "setcourse"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "setcourse"


def cache_dir():
    """The cache folder: ``$SETCOURSE_DATA`` when set, else the platform's user cache."""
    env = os.environ.get("SETCOURSE_DATA")
    return Path(env).expanduser() if env else default_cache_dir()


def dataset_dir(name):
    """The cache sub-folder of data set ``name``."""
    return cache_dir() / name


def system_folders(spec, first=()):
    """Existing folders that may hold a system copy of ``spec``, in search order.

    ``first`` (e.g. ``load(data_dir=...)``) come first, then folders listed in
    ``$SETCOURSE_DATA_PATH``, then ``registry.SYSTEM_DIRS``; each is searched itself and
    through the data set's usual sub-folder names.
    """
    extra = [p for p in os.environ.get("SETCOURSE_DATA_PATH", "").split(os.pathsep) if p]
    roots = [Path(p).expanduser()
             for p in (*first, *extra, *registry.SYSTEM_DIRS.get(spec.name, ()))]
    folders = []
    for root in roots:
        for folder in (root, *(root / sub for sub in spec.folder_names)):
            if folder.is_dir() and folder not in folders:
                folders.append(folder)
    return folders


def is_writable(folder):
    """True when a file can be created in ``folder`` (it is created if missing)."""
    try:
        temp_file(folder).unlink()
    except OSError:
        return False
    return True


def remove_stale_partials(folder, max_age=STALE_SECONDS):
    """Delete temporaries left by a killed process (older than ``max_age`` seconds)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for path in Path(folder).glob(PARTIAL_PREFIX + "*"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > max_age:
                    remove_quietly(path)


def arrays_dir(spec):
    """Folder of the parsed ``.npy`` arrays, named after the pinned digests they come from."""
    pins = repr((ARRAY_FORMAT, [(f.name, f.sha256) for f in spec.files]))
    return dataset_dir(spec.name) / f"arrays-{hashlib.sha256(pins.encode()).hexdigest()[:12]}"


def array_digest(array):
    """Hex digest of an array's dtype, shape and bytes (what ``load`` would serve)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.new(DIGEST)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(memoryview(array).cast("B") if array.size else b"")
    return digest.hexdigest()


def check_arrays(spec, arrays, folder=None):
    """Raise CorruptArraysError unless ``arrays`` match the registry: one integer label per
    image, labels in ``0..len(class_names)-1``, images of ``image_shape``, the registered
    train/test sizes, finite features within ``value_range`` when one is registered."""
    n_classes = len(spec.class_names)
    for split, n_rows in zip(("train", "test"), spec.sizes):
        X, y = arrays[f"X_{split}"], arrays[f"y_{split}"]
        x_file, y_file = ((f"{folder}/X_{split}.npy", f"{folder}/y_{split}.npy") if folder
                          else (f"X_{split} as parsed", f"y_{split} as parsed"))
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise CorruptArraysError(f"{y_file} must hold integer labels, one per sample; it "
                                     f"holds {y.dtype} of shape {y.shape}", y_file)
        if len(y) != n_rows:
            raise CorruptArraysError(f"{y_file} holds {len(y)} labels; {spec.name} has {n_rows} "
                                     f"{split} samples", y_file)
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise CorruptArraysError(f"{y_file} holds labels in {y.min()}..{y.max()}; "
                                     f"{spec.name}'s labels are 0..{n_classes - 1}", y_file)
        if X.shape != (n_rows, *spec.image_shape) or not np.issubdtype(X.dtype, np.number):
            raise CorruptArraysError(f"{x_file} holds {X.dtype} of shape {X.shape}; {spec.name} "
                                     f"has {split} images of shape {(n_rows, *spec.image_shape)}",
                                     x_file)
        if X.size and np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
            raise CorruptArraysError(f"{x_file} holds NaN or inf", x_file)
        if X.size and spec.value_range is not None and not _within(X.dtype, spec.value_range):
            low, high = X.min(), X.max()
            if low < spec.value_range[0] or high > spec.value_range[1]:
                raise CorruptArraysError(
                    f"{x_file} holds values in {low}..{high}; {spec.name}'s raw values are in "
                    f"{spec.value_range[0]}..{spec.value_range[1]}", x_file)


def _within(dtype, value_range):
    """True when every value of the integer ``dtype`` lies in ``value_range`` (no need to look)."""
    if not np.issubdtype(dtype, np.integer):
        return False
    info = np.iinfo(dtype)
    return value_range[0] <= info.min and info.max <= value_range[1]


def load_arrays(spec, strict=False):
    """The cached parsed arrays of ``spec``, verified against the digests recorded when they
    were cached and against the registry; None when absent.

    Arrays that fail (a flipped byte, labels changed, a missing or garbled digest file) give
    None, or raise CorruptArraysError naming the file when ``strict``.
    """
    folder = arrays_dir(spec)
    if not folder.is_dir():
        return None
    try:
        return _verified_arrays(spec, folder)
    except CorruptArraysError:
        if strict:
            raise
        return None


def _verified_arrays(spec, folder):
    manifest = folder / DIGEST_FILE
    try:
        recorded = json.loads(manifest.read_text())["arrays"]
        if not all(isinstance(recorded[name], dict) for name in ARRAY_NAMES):
            raise TypeError("not one entry per array")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CorruptArraysError(f"{manifest} is missing or unreadable ({error}): the cached "
                                 f"arrays cannot be verified", manifest) from error
    arrays = {}
    for name in ARRAY_NAMES:
        path = folder / f"{name}.npy"
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise CorruptArraysError(f"{path} is unreadable ({error})", path) from error
        actual = array_digest(array)
        if actual != recorded[name].get(DIGEST):
            raise CorruptArraysError(f"{path} has {DIGEST} {actual}, but {recorded[name].get(DIGEST)}"
                                     f" was recorded when it was cached: the file changed", path)
        arrays[name] = array
    check_arrays(spec, arrays, folder=folder)
    return arrays


def save_arrays(spec, arrays):
    """Cache parsed arrays as ``.npy`` with their digests (one folder renamed into place);
    False if not writable."""
    final = arrays_dir(spec)
    try:
        make_folder(final.parent)
        temp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=final.parent))
    except OSError:
        return False
    try:
        digests = {}
        for name in ARRAY_NAMES:
            array = np.ascontiguousarray(arrays[name])
            np.save(temp / f"{name}.npy", array, allow_pickle=False)
            digests[name] = {DIGEST: array_digest(array), "dtype": array.dtype.str,
                             "shape": list(array.shape)}
        (temp / DIGEST_FILE).write_text(json.dumps(
            {"format": ARRAY_FORMAT, "dataset": spec.name, "arrays": digests}, indent=1))
        if final.exists():
            # An unreadable leftover (load_arrays said None): move it aside, then replace it.
            os.replace(final, temp.with_name(temp.name + "-old"))
            remove_quietly(temp.with_name(temp.name + "-old"))
        publish(temp, final)
    except OSError:
        # Another process may have renamed its identical folder into place first: keep that one.
        remove_quietly(temp)
        return final.is_dir()
    for old in final.parent.glob("arrays-*"):
        if old != final:      # arrays of other pins or an older format (e.g. 1, without digests)
            remove_quietly(old)
    return True
