"""Downloading pinned files: mirrors, retries, timeouts, size caps, a progress bar, atomic
placement.

A file is streamed into a hidden temporary in the cache folder, its payload sha256 checked,
and only then renamed into place; a failed, truncated, corrupt, oversized, too slow or
interrupted download leaves nothing visible. Mirrors are tried in order, ``RETRIES`` more
rounds after the first; a mirror that serves something else than an archive at a ``#member``
URL (a captive portal's HTML page, a truncated file) is a failed mirror like any other.

Each download is capped in size (``RemoteFile.max_bytes``: the registered size plus slack; an
announced Content-Length above it is refused before any byte is read) and in total time
(``MIN_TOTAL_SECONDS`` or the cap at ``MIN_RATE`` bytes per second, whichever is longer), so a
server that drips a byte a second is given up like one that stalls (``TIMEOUT``).
"""
import contextlib
import http.client
import os
import socket
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from .. import __version__
from .._validation import check_in_range, check_positive_int
from . import cache
from .archives import NotAnArchiveError, copy_member
from .checksum import is_gzip, sha256_of
from .errors import FETCH_HINT, ChecksumError, DataUnavailableError

TIMEOUT = 30.0          # seconds without a byte before a mirror is given up
RETRIES = 1             # extra rounds over all mirrors after the first
BACKOFF = 2.0           # seconds to wait before each extra round
MIN_RATE = 20_000       # bytes per second below which a whole download is given up ...
MIN_TOTAL_SECONDS = 120.0   # ... but never sooner than this after it started
CHUNK = 1 << 16
USER_AGENT = f"setcourse/{__version__}"

# What a failed attempt can raise: network and HTTP errors, a truncated/corrupt gzip, a file
# that is not the archive a member URL promised (NotAnArchiveError is a ValueError; the others
# are listed in case a reader lets one through).
FAILURES = (OSError, http.client.HTTPException, ValueError, tarfile.TarError,
            zipfile.BadZipFile, EOFError)


def check_timeout(timeout, name="timeout"):
    """``timeout`` as a float in (0, inf) seconds, or None for the default; ValueError else."""
    if timeout is None:
        return None
    check_in_range(name, timeout, low=0, low_open=True)
    return float(timeout)


def time_limit(max_bytes):
    """Seconds a whole download of at most ``max_bytes`` may take (``max_bytes`` None: the
    minimum)."""
    return max(MIN_TOTAL_SECONDS, (max_bytes or 0) / MIN_RATE)


class Progress:
    """Download progress on ``stream``: a redrawn bar on a terminal, two short lines otherwise."""

    WIDTH = 30

    def __init__(self, label, total, stream=None):
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.start = time.perf_counter()
        self._drawn = -1
        if not self.tty:
            size = f" ({_megabytes(total)})" if total else ""
            self._write(f"downloading {label}{size}\n")

    def update(self, n_bytes):
        """Account for ``n_bytes`` more bytes received."""
        self.done += n_bytes
        if not self.tty:
            return
        fraction = self.done / self.total if self.total else 0.0
        filled = int(self.WIDTH * min(fraction, 1.0))
        if filled != self._drawn or not self.total:
            self._drawn = filled
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            amount = _megabytes(self.done) + (f"/{_megabytes(self.total)}" if self.total else "")
            self._write(f"\r{self.label} [{bar}] {amount}")

    def finish(self, message):
        """End the bar (or the plain lines) with ``message``."""
        seconds = time.perf_counter() - self.start
        prefix = "\n" if self.tty else ""
        self._write(f"{prefix}  {message} ({_megabytes(self.done)} in {seconds:.1f} s)\n")

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()


def _megabytes(n_bytes):
    return f"{n_bytes / 1e6:.1f} MB"


class TooLarge(OSError):
    """A server sends (or announces) more bytes than the file can have."""


class TooSlow(TimeoutError):
    """A download did not finish within its total time limit."""


class _Watchdog:
    """Ends a download when its total time is up, whatever it is waiting for: a timer shuts
    the connection's socket, so a server that drips its *headers* a byte at a time (which no
    per-read timeout and no check between body chunks can catch) is given up too."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.expired = False
        self._connections = []
        self._timer = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self):
        self.expired = True
        for connection in self._connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self):
        if self._timer is not None:
            self._timer.cancel()

    def _tracked(self, connection_class):
        def make(*args, **kwargs):
            connection = connection_class(*args, **kwargs)
            self._connections.append(connection)
            return connection
        return make

    def opener(self):
        """A urllib opener whose HTTP(S) connections this watchdog can shut."""
        watchdog = self

        class HTTPHandler(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(watchdog._tracked(http.client.HTTPConnection), req)

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(watchdog._tracked(http.client.HTTPSConnection), req,
                                    context=self._context)

        return urllib.request.build_opener(HTTPHandler, HTTPSHandler)

    def too_slow(self, n_bytes):
        return TooSlow(f"timed out: {n_bytes} bytes in {self.seconds:.0f} s, the most a "
                       f"download of this file may take")


def stream_url(url, path, timeout, stream=None, label=None, max_bytes=None, max_seconds=None):
    """Write the body at ``url`` into ``path``; raises OSError on a short or failed transfer,
    TooLarge beyond ``max_bytes`` and TooSlow after ``max_seconds`` in all."""
    watchdog = _Watchdog(max_seconds)
    try:
        _stream(url, path, timeout, stream, label, max_bytes, watchdog)
    except (OSError, http.client.HTTPException) as error:
        if watchdog.expired and not isinstance(error, TooSlow):
            raise watchdog.too_slow(_size(path)) from error
        raise
    finally:
        watchdog.cancel()


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _stream(url, path, timeout, stream, label, max_bytes, watchdog):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with watchdog.opener().open(request, timeout=timeout) as response, open(path, "wb") as out:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if max_bytes is not None and expected is not None and expected > max_bytes:
            raise TooLarge(f"the server announces {expected} bytes, more than the {max_bytes} "
                           f"this file can have; not downloaded")
        progress = Progress(label or url, expected, stream)
        try:
            # read1: whatever has arrived (up to CHUNK), so progress and partial files advance.
            while chunk := response.read1(CHUNK):
                out.write(chunk)
                progress.update(len(chunk))
                if max_bytes is not None and progress.done > max_bytes:
                    raise TooLarge(f"more than {max_bytes} bytes received, more than this file "
                                   f"can have; given up")
                if watchdog.expired:
                    raise watchdog.too_slow(progress.done)
            if watchdog.expired:
                raise watchdog.too_slow(progress.done)
            if expected is not None and progress.done != expected:
                raise OSError(f"connection closed after {progress.done} of {expected} bytes")
            out.flush()
            os.fsync(out.fileno())
        except BaseException as error:
            progress.finish(f"failed: {error}")
            raise
        progress.finish("done")


class Downloader:
    """Fetches pinned files into one cache folder; archives downloaded for a ``#member`` URL are
    kept (as hidden temporaries) until :meth:`close`, so several members cost one download."""

    def __init__(self, folder, dataset, timeout=None, retries=None, stream=None,
                 archive_max_bytes=None):
        timeout = check_timeout(timeout)
        if retries is not None:
            check_positive_int("retries", retries, minimum=0)
        self.folder = Path(folder)
        self.dataset = dataset
        self.timeout = TIMEOUT if timeout is None else timeout
        self.retries = RETRIES if retries is None else retries
        self.stream = stream
        self.archive_max_bytes = archive_max_bytes   # cap for an archive behind #member URLs
        self._archives = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Delete the archives kept for member URLs."""
        for path in self._archives.values():
            cache.remove_quietly(path)
        self._archives.clear()

    def fetch(self, remote, urls=None):
        """Download ``remote`` into the folder, verified; returns its final path.

        ``urls`` replaces ``remote.urls`` (e.g. a local mirror first). Raises ChecksumError
        when every copy found had the wrong digest, DataUnavailableError when no mirror could
        be reached.
        """
        urls = tuple(remote.urls if urls is None else urls)
        cache.make_folder(self.folder)
        cache.remove_stale_partials(self.folder)
        failures, mismatches = {}, []     # failures: url -> last error (one entry per mirror)
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(BACKOFF * attempt)
            for url in urls:
                if any(url == where for where, _ in mismatches):
                    continue  # this mirror serves a wrong file; asking again will not help
                try:
                    return self._fetch_from(remote, url)
                except ChecksumError as error:
                    mismatches.append((url, error))
                except FAILURES as error:
                    failures[url] = f"{url}: {error}"
        if mismatches and len(mismatches) == len(urls):
            raise mismatches[0][1]
        details = "; ".join([*failures.values(), *(str(error) for _, error in mismatches)])
        raise DataUnavailableError(
            f"could not download {remote.name} for {self.dataset} ({details}). When online, "
            + FETCH_HINT.format(name=self.dataset) + ".",
            dataset=self.dataset, reason=f"download of {remote.name} failed")

    def _fetch_from(self, remote, url):
        base, _, member = url.partition("#")
        temp = cache.temp_file(self.folder)
        try:
            if member:
                archive = self._archive(base, remote)
                try:
                    _, actual = copy_member(archive, member, temp, max_bytes=remote.max_bytes)
                except NotAnArchiveError:
                    cache.remove_quietly(self._archives.pop(base))   # ask again next round
                    raise
                if not remote.whole_file and is_gzip(temp):
                    actual = sha256_of(temp)     # the member is itself gzip: hash its payload
            else:
                stream_url(base, temp, self.timeout, self.stream, label=remote.name,
                           max_bytes=remote.max_bytes, max_seconds=time_limit(remote.max_bytes))
                actual = sha256_of(temp, decompress=not remote.whole_file)
            if actual not in remote.sha256:
                raise ChecksumError(remote.name, actual, remote.sha256, url, removed=True,
                                    dataset=self.dataset)
            compressed = not remote.whole_file and is_gzip(temp)
            final = self.folder / (remote.name + ".gz" if compressed else remote.name)
            cache.publish(temp, final)
            return final
        except BaseException:
            cache.remove_quietly(temp)
            raise

    def _archive(self, url, remote):
        """The downloaded archive at ``url`` (downloaded on first use)."""
        if url not in self._archives:
            temp = cache.temp_file(self.folder)
            cap = self.archive_max_bytes or remote.max_bytes
            try:
                label = Path(urllib.parse.urlparse(url).path).name or url
                stream_url(url, temp, self.timeout, self.stream, label=label, max_bytes=cap,
                           max_seconds=time_limit(cap))
            except BaseException:
                cache.remove_quietly(temp)
                raise
            self._archives[url] = temp
        return self._archives[url]
