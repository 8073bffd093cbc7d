"""Grading that a student's code cannot forge: their cell runs in a kernel, the checker here.

For each notebook, :func:`check`

1. picks the *trusted* notebook that says what to grade: the instructor notebook the copy
   was built from (its ``setcourse.source`` metadata, looked up only inside the instructor
   folder), or the one given as ``against``; a notebook without one is graded against its
   own cells (and says so);
2. starts a fresh IPython kernel (this Python, in an empty scratch folder, with secrets
   removed from its environment: :func:`kernel_environment`) and runs the trusted
   notebook's setup cell(s) there (cells with metadata ``setcourse.setup``), never the
   student's version of them;
3. per exercise: deletes the exercise's name in the kernel, runs the student's exercise
   cell only, then runs the checker of :mod:`setcourse.checks` **in this process** on a
   :class:`RemoteFunction`: each call of the student's function is one request to the
   kernel (arguments pickled here: pickles only go *to* the kernel), and the answer comes
   back as plain data (arrays in an ``.npz`` read with ``allow_pickle=False``, the rest as
   JSON, size-checked before reading). The verdict is the checker's own, collected with
   :func:`setcourse.checks.collect_verdicts`; then the instructor's hidden tests of the
   exercise (``### BEGIN HIDDEN TESTS`` regions of the cells that follow it) run in the
   kernel, and can only turn a pass into a fail.

Why this cannot be forged: nothing the kernel prints or writes is read as a verdict; the
only thing the student's code controls is what their function returns or raises for the
arguments the checker chose, which is exactly what the checker judges. The checker, its
reference implementations and this module were imported before any student code ran, and
live in a process the student's code cannot reach, so printing "✓ passed" or monkeypatching
``setcourse.checks`` in the notebook changes nothing. A function that is the package's own
(``from setcourse... import set_prune`` in the exercise cell) is refused by name.

What it does *not* do: isolate. Student code runs as the user who runs the check, with that
user's files and network (only the environment variables of :data:`SECRET_VARIABLES` are
removed). Grade untrusted submissions as an unprivileged user or in a container. As a
tripwire, the grading code's files are hashed before and after: a change fails the check.

Every notebook has one time limit for everything (``timeout``, default 300 s): kernel start,
setup, each exercise cell and every call of the checker. The time left is shared equally
among the exercises still to grade, so an endless loop in one exercise leaves time for the
others (the kernel is killed with its process group and started again).
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import pickle
import queue
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import scipy.sparse as sp

from .. import checks
from ..checks import FAILED, MARKS, NOT_ATTEMPTED, PASSED, collect_verdicts
from .build import HIDDEN_TESTS, exercise_of, find_root, notebooks_under, student_cell

DEFAULT_TIMEOUT = 300
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Environment variables the kernel does not get (case-insensitive search in the name).
SECRET_VARIABLES = re.compile(
    r"TOKEN|SECRET|KEY|PASSW|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|^AWS_|^AZURE_|"
    r"^GOOGLE_|^GCP_|^GCLOUD|^GITHUB_|^GH_|^GITLAB_|^CI_JOB|^SSH_|^GPG_|^GNUPG|^NPM_|^PYPI_|"
    r"^TWINE_|^HF_|^HUGGING|^OPENAI|^ANTHROPIC|^DOCKER_|^KUBE|^VAULT_|^PYTEST_|^JPY_",
    re.IGNORECASE)
MAX_ANSWER_BYTES = 512 * 2**20  # an answer larger than this (uncompressed) is refused
KERNEL_NAME = "setcourse-grader"


@dataclasses.dataclass
class ExerciseResult:
    """Outcome of one exercise: ``status`` is passed, failed or not attempted."""

    exercise: str
    status: str
    details: list
    summary: str = ""


@dataclasses.dataclass
class NotebookResult:
    """What ``check`` found in one notebook."""

    path: str
    exercises: list
    notes: list = dataclasses.field(default_factory=list)
    problem: str = ""
    graded_against: str = ""
    seconds: float = 0.0
    answers: list = dataclasses.field(default_factory=list)  # written answers: read by hand

    @property
    def passed(self):
        return sum(result.status == PASSED for result in self.exercises)

    @property
    def ok(self):
        return not self.problem and self.passed == len(self.exercises)


# --- the kernel -------------------------------------------------------------------------------

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

def setup_of(cell):
    """True for a setup cell (metadata ``setcourse.setup``): what the grader runs first."""
    return bool(cell.get("metadata", {}).get("setcourse", {}).get("setup"))


def split_hidden(source):
    """``(hidden, visible)``: the code inside a cell's hidden-test regions, and the rest."""
    begin, end = HIDDEN_TESTS
    hidden, visible, inside = [], [], False
    for line in source.split("\n"):
        if line.strip().startswith(begin):
            inside = True
        elif line.strip().startswith(end):
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(hidden), "\n".join(visible)


def hidden_tests(source):
    """The code of the hidden-test regions of a cell's source."""
    return split_hidden(source)[0]


def exercises_of(nb):
    """``[(exercise, cell, hidden test code)]`` of a (trusted) notebook, in order.

    An exercise's hidden tests are those of the code cells right after it that call its
    checker or hold only hidden tests.
    """
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    found = []
    for index, cell in enumerate(code):
        name = exercise_of(cell)
        if not name:
            continue
        hidden = []
        for following in code[index + 1:]:
            tests = hidden_tests(following.source)
            rest = following.source
            only_hidden = tests and not _without_hidden(rest).strip()
            if exercise_of(following) or not (f"check_{name}(" in rest or only_hidden):
                break
            if tests.strip():
                hidden.append(tests)
        found.append((name, cell, "\n".join(hidden)))
    return found


def _without_hidden(source):
    return split_hidden(source)[1]


def instructor_folders(path, instructor=None):
    """Where the instructor notebooks may be: ``instructor``, or the repository's."""
    if instructor:
        return [Path(instructor)]
    folders = []
    for start in (Path(path).resolve().parent, Path(".")):
        with contextlib.suppress(FileNotFoundError):
            folder = find_root(start) / "instructor"
            if folder not in folders:
                folders.append(folder)
    return folders


def trusted_notebook(path, nb, instructor=None, against=None):
    """``(path, notebook, note)`` of the notebook that says what and how to grade."""
    if against:
        return Path(against), nbformat.read(against, as_version=4), ""
    folders = instructor_folders(path, instructor)
    for folder in folders:
        with contextlib.suppress(ValueError):
            Path(path).resolve().relative_to(folder.resolve())
            return Path(path), nb, ""  # an instructor notebook is its own reference
    name = nb.metadata.get("setcourse", {}).get("source")
    if isinstance(name, str) and name:
        for folder in folders:
            candidate = (folder / name).resolve()
            try:
                candidate.relative_to(folder.resolve())  # never outside the instructor folder
            except ValueError:
                continue
            if candidate.is_file():
                return candidate, nbformat.read(candidate, as_version=4), ""
    return Path(path), nb, ("no instructor source found: graded against the notebook's own "
                            "setup and exercise cells")


def answer_of(cell):
    """The name of a written-answer cell (metadata ``setcourse.answer``), or None."""
    return cell.get("metadata", {}).get("setcourse", {}).get("answer")


def written_answers(nb, trusted):
    """``[{"answer", "status"}]``: is each written answer of ``trusted`` filled in ``nb``?

    Not scored (a person reads them): ``written`` when the student's cell differs from the
    placeholder of the student copy, else ``not written``.
    """
    found = []
    for cell in trusted.cells:
        name = answer_of(cell)
        if not name:
            continue
        placeholder = student_cell(cell, name).source.strip()
        mine = [c for c in nb.cells if answer_of(c) == name] or \
            [c for c in nb.cells if c.get("id") == cell.get("id")]
        text = mine[-1].source.strip() if mine else ""
        written = bool(text) and text != placeholder
        found.append({"answer": name, "status": "written" if written else "not written"})
    return found


def student_answer(nb, exercise, trusted_cell):
    """The student's cell for ``exercise``: the last one tagged with it, else the same id."""
    tagged = [cell for cell in nb.cells if cell.cell_type == "code" and exercise_of(cell) == exercise]
    if tagged:
        return tagged[-1]
    same_id = [cell for cell in nb.cells
               if cell.cell_type == "code" and cell.get("id") == trusted_cell.get("id")]
    return same_id[-1] if same_id else None


# --- grading ------------------------------------------------------------------------------------

def grade_exercise(kernel, exercise, cell, hidden, deadline):
    """Run the student's ``cell`` in ``kernel`` and the checker here; an ExerciseResult."""
    if cell is None:
        return ExerciseResult(exercise, NOT_ATTEMPTED,
                              [f"no exercise cell for {exercise} in this notebook"])
    checker = getattr(checks, f"check_{exercise}", None)
    if checker is None:
        return ExerciseResult(exercise, FAILED, [f"setcourse.checks has no check_{exercise}: "
                                                 "tell your instructor"])
    kernel.run(f"globals().pop({exercise!r}, None)", deadline, "the grader")
    error = kernel.run(cell.source, deadline, f"the exercise cell of {exercise}")
    if error and error[0] == "NotImplementedError":
        return ExerciseResult(exercise, NOT_ATTEMPTED, [f"the exercise cell raised {error[1]}"])
    if error:
        return ExerciseResult(exercise, FAILED,
                              [f"the exercise cell raised {error[0]}: {error[1]}"])
    # Defined again after the student's cell, which may have replaced it (harming only itself).
    kernel.run(KERNEL_HELPER, deadline, "the grader")
    answer = kernel.scratch / f"describe-{secrets.token_hex(8)}.json"
    kernel.run(f"_setcourse_grader_describe({exercise!r}, {str(answer)!r})", deadline,
               "the grader")
    try:
        info = json.loads(answer.read_text()) if answer.stat().st_size < 2**16 else {}
        answer.unlink()
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or not info.get("defined"):
        return ExerciseResult(exercise, FAILED, [
            f"the exercise cell does not define {exercise}(): everything your function needs "
            "must be in that cell (the grader runs only the setup cell and the exercise cell)"])
    if not info.get("callable"):
        return ExerciseResult(exercise, FAILED,
                              [f"{exercise} is a {info.get('type')}, not a function"])
    module = str(info.get("module"))
    if module == "setcourse" or module.startswith("setcourse."):
        return ExerciseResult(exercise, FAILED, [
            f"{exercise} is the package's {module}.{info.get('qualname')}, imported: write "
            "your own function in the exercise cell"])
    with collect_verdicts() as verdicts:
        checker(RemoteFunction(kernel, exercise, deadline))
    mine = [verdict for verdict in verdicts if verdict.exercise == exercise]
    if not mine:
        return ExerciseResult(exercise, FAILED, [f"check_{exercise} gave no verdict: tell your "
                                                 "instructor"])
    verdict = mine[-1]
    if verdict.status == PASSED and hidden.strip():
        error = kernel.run(hidden, deadline, f"the hidden tests of {exercise}")
        if error:
            return ExerciseResult(exercise, FAILED,
                                  [f"a hidden test failed: {error[0]}: {error[1]}"],
                                  verdict.summary)
    return ExerciseResult(exercise, verdict.status, list(verdict.details), verdict.summary)


def check_notebook(path, timeout=DEFAULT_TIMEOUT, fast=False, instructor=None, against=None):
    """Grade one notebook in a fresh kernel within ``timeout`` seconds in all."""
    started = time.monotonic()
    deadline = started + timeout
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
        trusted_path, trusted, note = trusted_notebook(path, nb, instructor, against)
    except Exception as exc:
        return NotebookResult(str(path), [], problem=f"not a readable notebook: {exc}")
    result = NotebookResult(str(path), [], [note] if note else [], "", str(trusted_path))
    result.answers = written_answers(nb, trusted)
    exercises = exercises_of(trusted)
    known = {name for name, _, _ in exercises}
    extra = sorted({exercise_of(c) for c in nb.cells if exercise_of(c)} - known)
    if extra:
        result.notes.append(f"not graded (not exercises of {trusted_path.name}): "
                            + ", ".join(extra))
    setup = "\n".join(cell.source for cell in trusted.cells
                      if cell.cell_type == "code" and setup_of(cell))
    if exercises and not setup:
        result.notes.append("the notebook has no setup cell (metadata setcourse.setup): the "
                            "exercise cells run on their own")
    kernel, restarts, setup_seconds = None, 0, 0.0
    with tempfile.TemporaryDirectory(prefix="setcourse-check-") as scratch:
        try:
            for index, (exercise, trusted_cell, hidden) in enumerate(exercises):
                cell = student_answer(nb, exercise, trusted_cell)
                if time.monotonic() >= deadline:
                    result.exercises.append(ExerciseResult(exercise, FAILED, [
                        f"not checked: the notebook's time limit of {timeout:g} s ran out"]))
                    continue
                if kernel is None and cell is not None:
                    begun = time.monotonic()
                    try:
                        kernel = GradingKernel(scratch, fast)
                        kernel.start(deadline)
                        error = kernel.run(setup + "\n" + KERNEL_HELPER, deadline,
                                           "the setup cell")
                        if error:
                            error = f"the setup cell raised {error[0]}: {error[1]}"
                    except KernelGone as gone:
                        kernel.stop()
                        error = f"{gone} ({timeout:g} s for the notebook)"
                        if restarts:  # the time went to the exercises before
                            result.exercises.extend(
                                ExerciseResult(name, FAILED, [
                                    f"not checked: the notebook's time limit of {timeout:g} s "
                                    "ran out (restarting the kernel after an earlier exercise)"])
                                for name, _, _ in exercises[index:])
                            break
                    if error:  # the course's own cell: not the student's fault
                        result.problem = error
                        result.exercises.extend(
                            ExerciseResult(name, FAILED, ["not checked: the setup failed"])
                            for name, _, _ in exercises[index:])
                        break
                    restarts += 1
                    setup_seconds = max(setup_seconds, time.monotonic() - begun)
                try:
                    if cell is not None and re.search(r"\bsetcourse\b", cell.source):
                        result.notes.append(f"{exercise}: the exercise cell mentions setcourse "
                                            "(uses the package's own solution?): read it")
                    # Equal shares of the time left, after keeping a kernel restart (with
                    # setup) for each exercise still to come, in case this one has to be killed.
                    to_come = len(exercises) - index
                    left = deadline - time.monotonic()
                    share = max(left - setup_seconds * (to_come - 1), left * 0.2) / to_come
                    outcome = grade_exercise(kernel, exercise, cell, hidden,
                                             time.monotonic() + share)
                except KernelGone as gone:
                    if kernel is not None:
                        kernel.stop()
                    kernel = None
                    limit = f" ({timeout:g} s for the notebook, shared by its exercises)"
                    outcome = ExerciseResult(exercise, FAILED, [
                        str(gone) + (limit if "time" in str(gone) else "")])
                result.exercises.append(outcome)
        finally:
            if kernel is not None:
                kernel.stop()
    result.seconds = round(time.monotonic() - started, 2)
    return result


def grading_code_fingerprint():
    """A digest of the grading code's files (checkers and this package): the tripwire."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for folder in (here, here.parent / "checks"):
        for file in sorted(folder.glob("*.py")):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def check(paths, timeout=DEFAULT_TIMEOUT, fast=False, instructor=None, against=None):
    """Grade each notebook under ``paths`` (files or folders); a list of NotebookResult.

    ``timeout`` is the limit for each notebook in all; ``instructor`` the folder of the
    instructor notebooks (default: the repository's), ``against`` one notebook to grade
    every submission against.
    """
    notebooks = []
    for path in map(Path, paths):
        notebooks.extend(notebooks_under(path) if path.is_dir() else [path])
    before = grading_code_fingerprint()
    results = [check_notebook(path, timeout, fast, instructor, against) for path in notebooks]
    if grading_code_fingerprint() != before:
        for result in results:
            result.problem = result.problem or (
                "the grading code (setcourse/checks, setcourse/course) changed on disk during "
                "the check: a submission may have modified it; reinstall and grade again")
    return results


def format_result(result):
    """A notebook's report as text: one line per exercise, hints indented, then the score."""
    lines = [result.path]
    if result.problem:
        lines.append(f"  could not check: {result.problem}")
    lines.extend(f"  note: {note}" for note in result.notes)
    width = max([len(r.exercise) for r in result.exercises], default=0)
    for exercise in result.exercises:
        lines.append(f"  {MARKS[exercise.status]} {exercise.exercise:<{width}}  {exercise.status}")
        if exercise.status == FAILED:
            lines.extend(f"      {detail}" for detail in exercise.details)
    for answer in result.answers:
        mark = "✎" if answer["status"] == "written" else MARKS[NOT_ATTEMPTED]
        lines.append(f"  {mark} {answer['answer']}  {answer['status']}"
                     + (" (not scored: read it)" if answer["status"] == "written" else ""))
    if result.exercises:
        lines.append(f"  score: {result.passed}/{len(result.exercises)}")
    elif not result.problem:
        lines.append("  no exercises in this notebook")
    return "\n".join(lines)
