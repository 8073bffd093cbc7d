"""Atomic writes: files appear complete under their final name, or not at all.

Everything is written under a hidden ``.partial-`` name in the destination folder and renamed
into place (``os.replace``, atomic on one file system) once complete, so a crash, a Ctrl-C or
a second process can only ever leave a stale temporary behind, never a half-written file.
"""
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

PARTIAL_PREFIX = ".partial-"


def _read_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp create private (0600/0700) entries; finished ones get the usual permissions
# so that a classroom cache shared through SETCOURSE_DATA stays readable by everyone.
UMASK = _read_umask()


def make_folder(folder):
    """Create ``folder`` (and parents); raises OSError when that is not allowed."""
    os.makedirs(folder, exist_ok=True)


def temp_file(folder, suffix=""):
    """A new empty hidden temporary file in ``folder`` (created first if needed)."""
    make_folder(folder)
    handle, path = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=suffix, dir=folder)
    os.close(handle)
    return Path(path)


def remove_quietly(path):
    """Delete a file or folder, ignoring that it may already be gone or be read-only."""
    with contextlib.suppress(OSError):
        if Path(path).is_dir():
            shutil.rmtree(path)
        else:
            os.unlink(path)


def publish(temp, final):
    """Give a finished temporary the usual permissions and rename it onto ``final``."""
    os.chmod(temp, (0o777 if Path(temp).is_dir() else 0o666) & ~UMASK)
    os.replace(temp, final)


@contextlib.contextmanager
def atomic_file(final, suffix=""):
    """Yield a temporary path beside ``final``, renamed onto it only if the block succeeds.

    ``suffix`` gives the temporary an extension, for writers that infer the format from it.
    """
    temp = temp_file(Path(final).absolute().parent, suffix)
    try:
        yield temp
        publish(temp, final)
    except BaseException:
        remove_quietly(temp)
        raise
