"""The grading kernel: a fresh IPython kernel for a student's cells, and calls into it whose
answers come back as plain data (arrays in an ``.npz`` read with ``allow_pickle=False``, the
rest as JSON), never as pickles. See :mod:`setcourse.course.grade` for why this cannot be
forged.
"""
import contextlib
import json
import os
import pickle
import queue
import re
import secrets
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes in kernel tracebacks
# Environment variables the kernel does not get (case-insensitive search in the name).
SECRET_VARIABLES = re.compile(
    r"TOKEN|SECRET|KEY|PASSW|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|^AWS_|^AZURE_|"
    r"^GOOGLE_|^GCP_|^GCLOUD|^GITHUB_|^GH_|^GITLAB_|^CI_JOB|^SSH_|^GPG_|^GNUPG|^NPM_|^PYPI_|"
    r"^TWINE_|^HF_|^HUGGING|^OPENAI|^ANTHROPIC|^DOCKER_|^KUBE|^VAULT_|^PYTEST_|^JPY_",
    re.IGNORECASE)
MAX_ANSWER_BYTES = 512 * 2**20  # an answer larger than this (uncompressed) is refused
KERNEL_NAME = "setcourse-grader"


class KernelGone(BaseException):
    """The kernel ran out of time or died. A BaseException, so that no checker catches it."""


def kernel_environment(fast=False, environ=None):
    """The grading kernel's environment: this one without secrets (:data:`SECRET_VARIABLES`)."""
    environ = os.environ if environ is None else environ
    env = {key: value for key, value in environ.items() if not SECRET_VARIABLES.search(key)}
    env["MPLBACKEND"] = "Agg"
    env.pop("SETCOURSE_FAST", None)
    if fast:
        env["SETCOURSE_FAST"] = "1"
    return env


# Defined in the kernel after the setup cell. It runs next to the student's code, so nothing
# it sends back is trusted: the grader reads its answer as data and judges it.
KERNEL_HELPER = r'''
def _setcourse_grader(_request, _answer):
    import json, os, pickle, sysconfig, traceback
    import numpy
    with open(_request, "rb") as handle:
        name, args = pickle.load(handle)
    arrays = {}

    def keep(array):
        key = "a%d" % len(arrays)
        arrays[key] = numpy.array(array, order="C")  # (ascontiguousarray makes 0-d 1-d)
        return key

    def other(value):
        try:
            text = repr(value)[:300]
        except BaseException:
            text = "?"
        kind = type(value)
        return {"t": "other", "type": kind.__module__ + "." + kind.__qualname__, "repr": text}

    def encode(value, depth=0):
        if depth > 20:
            return other(value)
        if value is None or type(value) in (bool, int, float, str):
            return {"t": "py", "v": value}
        if isinstance(value, numpy.matrix):
            return {"t": "nd", "k": keep(numpy.asarray(value)), "matrix": True}
        if isinstance(value, (numpy.ndarray, numpy.generic)):
            array = numpy.asarray(value)
            if array.dtype.hasobject:
                return other(value)
            return {"t": "nd", "k": keep(array), "scalar": isinstance(value, numpy.generic)}
        if type(value).__module__.startswith("scipy.sparse") and hasattr(value, "tocoo"):
            coo = value.tocoo()
            return {"t": "sparse", "format": str(value.format), "shape": list(coo.shape),
                    "data": keep(coo.data), "row": keep(coo.row), "col": keep(coo.col),
                    "array": not type(value).__name__.endswith("_matrix")}
        if type(value) in (list, tuple):
            return {"t": type(value).__name__, "v": [encode(v, depth + 1) for v in value]}
        if type(value) is dict and all(type(k) is str for k in value):
            return {"t": "dict", "v": {k: encode(v, depth + 1) for k, v in value.items()}}
        return other(value)

    def describe(exc):
        libraries = {sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}
        mine = _setcourse_grader.__code__.co_filename
        where = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == mine or not frame.line or frame.filename.startswith("<frozen") \
                    or any(frame.filename.startswith(root) for root in libraries):
                continue
            where = [frame.lineno, frame.name, frame.line.strip()]
        try:
            message = str(exc)[:500]
        except BaseException:
            message = "?"
        return {"type": type(exc).__name__, "message": message, "where": where}

    reply = {}
    try:
        reply["result"] = encode(globals()[name](*args))
    except BaseException as exc:
        reply["raised"] = describe(exc)
    reply["args"] = [encode(a) if isinstance(a, numpy.ndarray) else None for a in args]
    temporary = _answer + ".partial"
    with open(temporary, "wb") as handle:
        numpy.savez(handle, __reply__=numpy.array(json.dumps(reply)), **arrays)
    os.replace(temporary, _answer)


def _setcourse_grader_describe(name, _answer):
    import json
    missing = object()
    value = globals().get(name, missing)
    info = {"defined": value is not missing, "callable": callable(value),
            "type": type(value).__name__,
            "module": str(getattr(value, "__module__", None) or type(value).__module__),
            "qualname": str(getattr(value, "__qualname__", getattr(value, "__name__", "")))}
    with open(_answer, "w") as handle:
        json.dump(info, handle)
'''


class GradingKernel:
    """A fresh IPython kernel of this Python in ``workdir``; every call has a deadline."""

    def __init__(self, scratch, fast=False):
        self.scratch = Path(scratch)
        self.workdir = self.scratch / "work"
        self.workdir.mkdir(exist_ok=True)
        self.fast = fast
        self.km = self.kc = None

    def start(self, deadline):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager
        specs = self.scratch / "kernels"
        (specs / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
        (specs / KERNEL_NAME / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "setcourse grader", "language": "python"}))
        manager = KernelSpecManager(kernel_dirs=[str(specs)], ensure_native_kernel=False)
        # Unix sockets in the private scratch folder: no port another local user can reach.
        transport = {"transport": "ipc", "ip": str(self.scratch / "kernel")} \
            if os.name == "posix" else {}
        self.km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=manager, **transport)
        self.km.start_kernel(env=kernel_environment(self.fast), cwd=str(self.workdir),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=max(0.1, deadline - time.monotonic()))
        except RuntimeError as error:
            self.stop()
            raise KernelGone(f"the kernel did not start in time ({error})") from None

    def stop(self):
        """Kill the kernel and everything it started in its process group; never raises."""
        if self.km is None:
            return
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None and hasattr(os, "killpg"):
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)  # the kernel leads its own session
        with contextlib.suppress(Exception):
            self.kc.stop_channels()
        with contextlib.suppress(Exception):
            self.km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            self.km.cleanup_resources()
        self.km = self.kc = None

    def run(self, code, deadline, what="a cell"):
        """Run ``code``; returns ``(ename, evalue)`` of its error, or None when it succeeded.

        Raises :class:`KernelGone` (after stopping the kernel) at the deadline or if it dies.
        """
        if self.km is None:
            raise KernelGone("the kernel is not running")
        if time.monotonic() >= deadline:
            self.stop()
            raise KernelGone(f"no time left to run {what}")
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False,
                                 stop_on_error=False)
        while True:
            self._drain_output()
            try:
                reply = self.kc.get_shell_msg(timeout=0.05)
            except queue.Empty:
                if not self.km.is_alive():
                    self.stop()
                    raise KernelGone(f"the kernel died while running {what}") from None
                if time.monotonic() >= deadline:
                    self.stop()
                    raise KernelGone(f"{what} exceeded the time limit") from None
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        self._drain_output()
        content = reply["content"]
        if content.get("status") == "ok":
            return None
        return (ANSI.sub("", str(content.get("ename", "Error"))),
                ANSI.sub("", str(content.get("evalue", "")))[:500])

    def _drain_output(self):
        """Discard what the kernel printed: nothing printed is evidence of anything."""
        with contextlib.suppress(queue.Empty):
            for _ in range(10000):
                self.kc.get_iopub_msg(timeout=0)


# --- calling the student's function across the process boundary ---------------------------------

class StudentError(Exception):
    """The student's function raised in the kernel (or answered in a form that cannot be read).

    ``student_lines`` is how :func:`setcourse.checks.runner.describe_exception` shows it.
    """

    def __init__(self, lines):
        super().__init__(lines[0])
        self.student_lines = list(lines)


class Opaque:
    """Stands in for a returned object that does not travel as data (shown by type and repr)."""

    def __init__(self, kind, text):
        self.kind, self.text = kind, text

    def __repr__(self):
        return f"<{self.kind}: {self.text}>"


def read_answer(path):
    """``(reply, arrays)`` of an answer file; never unpickles; refuses oversized files."""
    if not path.exists():
        raise StudentError(["no answer came back from the kernel (was the grader's helper "
                            "deleted or replaced?)"])
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
        if size > MAX_ANSWER_BYTES:
            raise StudentError([f"the answer is too large to check ({size / 2**20:.0f} MiB)"])
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        return json.loads(str(arrays.pop("__reply__"))), arrays
    except StudentError:
        raise
    except Exception as error:
        raise StudentError([f"could not read what your function returned "
                            f"({type(error).__name__}: {error})"]) from None


def decode(node, arrays):
    """A value of the answer file as a plain Python/NumPy/SciPy object."""
    kind = node.get("t") if isinstance(node, dict) else None
    if kind == "py":
        value = node.get("v")
        return value if value is None or type(value) in (bool, int, float, str) else None
    if kind == "nd":
        array = np.array(arrays[node["k"]])
        if node.get("matrix"):  # kept: the checkers have a hint for np.matrix
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                return np.asmatrix(array)
        return array[()] if node.get("scalar") else array
    if kind == "sparse":
        shape = tuple(int(n) for n in node["shape"])
        coo = sp.coo_matrix((arrays[node["data"]], (arrays[node["row"]], arrays[node["col"]])),
                            shape=shape)
        if node.get("array") and hasattr(sp, "coo_array"):
            coo = sp.coo_array(coo)
        with contextlib.suppress(Exception):
            return coo.asformat(str(node.get("format")))
        return coo
    if kind in ("list", "tuple"):
        items = [decode(item, arrays) for item in node.get("v", [])]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {str(key): decode(value, arrays) for key, value in node.get("v", {}).items()}
    if kind == "other":
        return Opaque(str(node.get("type")), str(node.get("repr")))
    return Opaque("unreadable", repr(node)[:100])


class RemoteFunction:
    """The student's function ``name`` in the kernel, called from the checker in this process."""

    def __init__(self, kernel, name, deadline):
        self.kernel, self.__name__, self.deadline = kernel, name, deadline
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        token = secrets.token_hex(8)
        request = self.kernel.scratch / f"call-{token}.pkl"
        answer = self.kernel.scratch / f"answer-{token}.npz"
        with open(request, "wb") as handle:
            pickle.dump((self.__name__, args), handle)
        try:
            self.kernel.run(f"_setcourse_grader({str(request)!r}, {str(answer)!r})",
                            self.deadline, f"{self.__name__}()")
            reply, arrays = read_answer(answer)
        finally:
            for path in (request, answer):
                path.unlink(missing_ok=True)
        for original, node in zip(args, reply.get("args") or []):
            if node is not None and isinstance(original, np.ndarray):  # in-place changes
                with contextlib.suppress(Exception):
                    changed = decode(node, arrays)
                    if changed.shape == original.shape:
                        np.copyto(original, changed, casting="unsafe")
        if "raised" in reply:
            raised = reply["raised"] or {}
            kind, message = str(raised.get("type")), str(raised.get("message"))
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            lines = [f"{kind}: {message}"]
            where = raised.get("where")
            if isinstance(where, list) and len(where) == 3:
                lines.append(f"at line {where[0]} of {where[1]}(): {where[2]}")
            raise StudentError(lines)
        return decode(reply.get("result"), arrays)


# --- what to grade ------------------------------------------------------------------------------
