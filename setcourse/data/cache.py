"""Where data sets live on disk: the cache folder, system copies, atomic writes, parsed arrays.

Nothing half-written is ever visible: files and array folders are written under a hidden
``.partial-`` name in the same folder and renamed into place (``os.replace``) once complete,
so a crash, a Ctrl-C or a second process loading at the same time can only leave a stale
temporary behind, never a wrong file.
"""
import contextlib
import hashlib
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
ARRAY_FORMAT = 1
ARRAY_NAMES = ("X_train", "y_train", "X_test", "y_test")


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


def system_folders(spec):
    """Existing folders that may hold a system copy of ``spec``, in search order.

    Folders listed in ``$SETCOURSE_DATA_PATH`` come first, then ``registry.SYSTEM_DIRS``; each
    is searched itself and through the data set's usual sub-folder names.
    """
    extra = [p for p in os.environ.get("SETCOURSE_DATA_PATH", "").split(os.pathsep) if p]
    roots = [Path(p).expanduser() for p in (*extra, *registry.SYSTEM_DIRS.get(spec.name, ()))]
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


def load_arrays(spec):
    """The cached parsed arrays of ``spec``, or None when absent or unreadable."""
    folder = arrays_dir(spec)
    if not folder.is_dir():
        return None
    try:
        arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in ARRAY_NAMES}
    except (OSError, ValueError, EOFError):
        return None
    if (arrays["X_train"].shape[0] != arrays["y_train"].shape[0]
            or arrays["X_test"].shape[0] != arrays["y_test"].shape[0]):
        return None
    return arrays


def save_arrays(spec, arrays):
    """Cache parsed arrays as ``.npy`` (one folder renamed into place); False if not writable."""
    final = arrays_dir(spec)
    try:
        make_folder(final.parent)
        temp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=final.parent))
    except OSError:
        return False
    try:
        for name in ARRAY_NAMES:
            np.save(temp / f"{name}.npy", np.ascontiguousarray(arrays[name]), allow_pickle=False)
        if final.exists():
            # An unreadable leftover (load_arrays said None): move it aside, then replace it.
            os.replace(final, temp.with_name(temp.name + "-old"))
            remove_quietly(temp.with_name(temp.name + "-old"))
        publish(temp, final)
    except OSError:
        # Another process may have renamed its identical folder into place first: keep that one.
        remove_quietly(temp)
        return final.is_dir()
    return True
