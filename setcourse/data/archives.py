"""Reading members out of tar and zip archives without ever writing outside a folder.

Members are read into memory or streamed into one named file, never extracted, and an archive
that names any member with ``..`` or an absolute path is refused as a whole: such an archive is
not the one published. A file that is not a zip or tar archive at all (an HTML page from a
captive Wi-Fi portal, a truncated download) raises :class:`NotAnArchiveError`, a ValueError.
"""
import gzip
import hashlib
import tarfile
import zipfile
import zlib
from pathlib import PurePosixPath, PureWindowsPath

from .errors import UnsafeArchiveError

CHUNK = 1 << 20

# What reading a damaged or foreign archive can raise besides our own errors.
_BROKEN = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile)


class NotAnArchiveError(ValueError):
    """The file is not a readable zip or tar archive (foreign, truncated or corrupt)."""


class TooLargeError(ValueError):
    """A member is larger than the caller allows."""


def check_member_name(name, archive):
    """Raise UnsafeArchiveError if ``name`` is absolute or climbs out with ``..``."""
    posix = name.replace("\\", "/")
    windows = PureWindowsPath(name)
    if (PurePosixPath(posix).is_absolute() or windows.is_absolute() or windows.drive
            or ".." in posix.split("/")):
        raise UnsafeArchiveError(f"refusing archive {archive}: member {name!r} has an absolute "
                                 f"path or '..'")


def read_tar_members(path, wanted):
    """``{basename: bytes}`` for the regular members of a tar(.gz) whose basename is in ``wanted``.

    Reads the archive in one streaming pass; every member name (and link target) is checked.
    """
    found = {}
    with tarfile.open(path, mode="r|*") as tar:
        for member in tar:
            check_member_name(member.name, path)
            if member.issym() or member.islnk():
                check_member_name(member.linkname, path)
                continue
            base = PurePosixPath(member.name).name
            if not member.isfile() or base not in wanted:
                continue
            if base in found:
                raise ValueError(f"archive {path} holds {base} twice")
            found[base] = tar.extractfile(member).read()
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise ValueError(f"archive {path} lacks {', '.join(missing)}")
    return found


def _checked_zip_member(archive, path, member):
    """Check every member name of the open zip ``archive``; fail unless ``member`` is one."""
    names = archive.namelist()
    for name in names:
        check_member_name(name, path)
    if member not in names:
        raise ValueError(f"archive {path} lacks {member}")


def read_zip_member(path, member):
    """The bytes of ``member`` in the zip file ``path`` (all member names are checked)."""
    with zipfile.ZipFile(path) as archive:
        _checked_zip_member(archive, path, member)
        return archive.read(member)


def read_member(path, member):
    """The bytes of ``member`` in a zip or tar(.gz) archive."""
    try:
        if zipfile.is_zipfile(path):
            return read_zip_member(path, member)
        return read_tar_members(path, {PurePosixPath(member).name})[PurePosixPath(member).name]
    except _BROKEN as error:
        raise NotAnArchiveError(_not_an_archive(path, error)) from error


def copy_member(path, member, out_path, max_bytes=None):
    """Stream ``member`` of the zip or tar(.gz) archive ``path`` into ``out_path`` while hashing
    it; returns ``(n_bytes, sha256 hex)``. Nothing is held in memory beyond one chunk.

    Raises NotAnArchiveError when ``path`` is no readable archive, ValueError when the member is
    missing, TooLargeError when it exceeds ``max_bytes`` (checked before and while copying).
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                _checked_zip_member(archive, path, member)
                _check_size(archive.getinfo(member).file_size, max_bytes, member, path)
                with archive.open(member) as source:
                    return _copy(source, out_path, max_bytes, member, path)
        base = PurePosixPath(member).name
        with tarfile.open(path, mode="r|*") as tar:
            for info in tar:
                check_member_name(info.name, path)
                if info.issym() or info.islnk():
                    check_member_name(info.linkname, path)
                    continue
                if info.isfile() and PurePosixPath(info.name).name == base:
                    _check_size(info.size, max_bytes, member, path)
                    return _copy(tar.extractfile(info), out_path, max_bytes, member, path)
        raise ValueError(f"archive {path} lacks {member}")
    except _BROKEN as error:
        raise NotAnArchiveError(_not_an_archive(path, error)) from error


def _copy(source, out_path, max_bytes, member, path):
    digest, n_bytes = hashlib.sha256(), 0
    with open(out_path, "wb") as out:
        while chunk := source.read(CHUNK):
            n_bytes += len(chunk)
            _check_size(n_bytes, max_bytes, member, path)
            digest.update(chunk)
            out.write(chunk)
    return n_bytes, digest.hexdigest()


def _check_size(n_bytes, max_bytes, member, path):
    if max_bytes is not None and n_bytes > max_bytes:
        raise TooLargeError(f"member {member} of {path} holds more than {max_bytes} bytes, the "
                            f"most this file can be; refused")


def _not_an_archive(path, error):
    try:
        with open(path, "rb") as file:
            head = file.read(64)
    except OSError:
        head = b""
    looks = " (it looks like an HTML page)" if b"<" in head[:16] and b"html" in head.lower() \
        else ""
    return (f"{path} is not a readable zip or tar archive{looks}: {type(error).__name__}: "
            f"{error}")
