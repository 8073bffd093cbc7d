"""The checker framework: cases, verdicts, friendly reports, and reading the reports back.

A checker builds :class:`Case` objects (arguments and a verifier that raises
:class:`Mismatch`) and hands them to :func:`run_checker`, which calls the student's function
on each, catches whatever it raises, and prints one report. A checker never raises: an
exception in the student's code becomes a ✗ that shows it, and ``NotImplementedError`` (the
placeholder of a student copy) means "not attempted yet".

The first line of every report is ``<mark> <exercise>: <status>`` with status ``passed``,
``failed`` or ``not attempted``. That text is for people: ``python -m setcourse.course check``
never reads it (a student can print anything); it takes each checker's :class:`Verdict` with
:func:`collect_verdicts` in its own process.
"""
import contextlib
import re
import sys
import sysconfig
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp


PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"
MARKS = {PASSED: "✓", FAILED: "✗", NOT_ATTEMPTED: "○"}
# Used when the console cannot encode the marks (e.g. a cp1252 Windows terminal).
ASCII_MARKS = {PASSED: "[ok]", FAILED: "[x]", NOT_ATTEMPTED: "[ ]"}
ASCII_FALLBACK = str.maketrans({"ζ": "zeta", "ε": "eps", "≥": ">=", "≤": "<=", "·": "*",
                                "⌊": "floor(", "⌋": ")", "½": "1/2", "—": "-", "×": "x",
                                "₊": "+", "₋": "-", "…": "...", "→": "->"})

_HEADER = re.compile(
    r"^(?:✓|✗|○|\[ok\]|\[x\]|\[ \]) (?P<exercise>\w+): (?P<status>passed|failed|not attempted)\b")


@dataclass
class Verdict:
    """What one checker decided: the structured form of the report it printed."""

    exercise: str
    status: str
    summary: str
    details: list


_collectors = []  # (list of verdicts, quiet) of each active collect_verdicts, innermost last


@contextlib.contextmanager
def collect_verdicts(quiet=True):
    """Collect the :class:`Verdict` of every checker run inside the block (in this process).

    With ``quiet`` the reports are not printed. This is how ``course check`` learns a result:
    from the checker itself, not from text that the student's code could have printed.
    """
    found = []
    entry = (found, quiet)
    _collectors.append(entry)
    try:
        yield found
    finally:
        _collectors.remove(entry)


class Mismatch(Exception):
    """The student's answer differs from the expected one on a case."""

    def __init__(self, expected, got, hint=""):
        super().__init__(hint)
        self.expected, self.got, self.hint = expected, got, hint


class _NotAttempted(Exception):
    """The student's function raised NotImplementedError."""


class _StudentRaised(Exception):
    """The student's function raised; ``__cause__`` is the original exception."""


@dataclass
class Case:
    """One call of the student's function: a name, its arguments and how to judge the result."""

    name: str
    args: tuple
    verify: Callable  # verify(result, args) raises Mismatch when the result is wrong
    shown: str = ""  # how the input is shown in a hint (default: repr of args)


def show(value, limit=12):
    """A short readable form of ``value`` for a hint (arrays clipped to ``limit`` items)."""
    if sp.issparse(value):
        return f"{type(value).__name__} of shape {value.shape} with {value.nnz} stored entries"
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=3, separator=", ", threshold=limit, edgeitems=4,
                               max_line_width=100)
        return f"{text} (shape {value.shape}, dtype {value.dtype})"
    if isinstance(value, np.random.Generator):
        return "rng"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


def emit(text):
    """Print ``text``, replacing symbols the console cannot encode instead of raising."""
    try:
        print(text, flush=True)
    except UnicodeEncodeError:
        for status, mark in MARKS.items():
            text = text.replace(mark, ASCII_MARKS[status])
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        text = text.translate(ASCII_FALLBACK).encode(encoding, "replace").decode(encoding)
        print(text, flush=True)


def report(exercise, status, summary, details=()):
    """Print the report of one checker: a header line and indented detail lines."""
    for found, _ in _collectors:
        found.append(Verdict(exercise, status, summary, list(details)))
    if any(quiet for _, quiet in _collectors):
        return
    lines = [f"{MARKS[status]} {exercise}: {status} — {summary}"]
    lines += [f"    {line}" for line in details]
    emit("\n".join(lines))


def parse_reports(text):
    """Checker reports found in printed ``text``: a list of (exercise, status, report lines)."""
    found = []
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            found.append((match["exercise"], match["status"], [line]))
        elif found and line.startswith("    "):
            found[-1][2].append(line)
    return found


def call_student(fn, args):
    """Call the student's function, turning its exceptions into the checker's own."""
    try:
        return fn(*args)
    except NotImplementedError as exc:
        raise _NotAttempted() from exc
    except (Exception, SystemExit) as exc:  # SystemExit too: a checker never stops the notebook
        raise _StudentRaised() from exc


def _library_file(filename):
    """True for files of Python itself or of installed packages (not the student's code)."""
    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")}
    return filename.startswith("<frozen") or any(filename.startswith(root) for root in roots)


def describe_exception(exc):
    """``Type: message`` plus the student's own line that led to it, if known."""
    if hasattr(exc, "student_lines"):  # raised in the grading kernel, described there
        return list(exc.student_lines)
    lines = [f"{type(exc).__name__}: {exc}"]
    # Frame 0 is call_student; the student's frames follow, then maybe library frames.
    frames = traceback.extract_tb(exc.__traceback__)[1:]
    # Compiled code (e.g. numpy's Cython) has no source line: it is not the student's either.
    own = [frame for frame in frames if frame.line and not _library_file(frame.filename)]
    if own:
        last = own[-1]
        lines.append(f"at line {last.lineno} of {last.name}(): {last.line.strip()}")
    return lines


def run_checker(exercise, fn, cases):
    """Run ``cases`` against ``fn``; print one ✓/✗/○ report and return True when all pass."""
    try:
        return _run_cases(exercise, fn, cases)
    except Exception as exc:  # a checker must never stop the student's notebook
        report(exercise, FAILED, "the checker could not judge this answer.",
               [f"{type(exc).__name__}: {exc}", "Please tell your instructor."])
        return False


def _run_cases(exercise, fn, cases):
    if not callable(fn):
        report(exercise, FAILED, f"expected a function, got {show(fn)}.",
               [f"Pass the function itself, e.g. check_{exercise}({exercise}), not its result."])
        return False
    failures = []
    for case in cases:
        args = tuple(a.copy() if hasattr(a, "copy") and not isinstance(a, np.random.Generator)
                     else a for a in case.args)
        try:
            result = call_student(fn, args)
            case.verify(result, args)
        except _NotAttempted:
            report(exercise, NOT_ATTEMPTED,
                   f"{getattr(fn, '__name__', 'your function')}() still raises "
                   "NotImplementedError.",
                   ["Replace the `raise NotImplementedError` line with your code, then run the "
                    "cell again."])
            return False
        except _StudentRaised as raised:
            first, *rest = describe_exception(raised.__cause__)
            failures.append((case, [f"your function raised {first}", *rest]))
        except Mismatch as wrong:
            lines = [f"expected: {wrong.expected}", f"got:      {wrong.got}"]
            failures.append((case, lines + ([f"hint:     {wrong.hint}"] if wrong.hint else [])))
        except Exception as exc:  # the result had a form the verifier could not handle
            failures.append((case, [f"could not check what your function returned: "
                                    f"{type(exc).__name__}: {exc}"]))
    if not failures:
        report(exercise, PASSED,
               f"all {len(cases)} test cases give the expected answer. Well done!")
        return True
    case, lines = failures[0]
    passed = len(cases) - len(failures)
    details = [f"case:     {case.name}", f"input:    {case.shown or show_args(case.args)}", *lines]
    if len(failures) > 1:
        details.append("also failing: " + "; ".join(c.name for c, _ in failures[1:]))
    report(exercise, FAILED, f"{passed} of {len(cases)} test cases pass.", details)
    return False


def show_args(args):
    return ", ".join(show(a) for a in args)


def as_array(result, what):
    """The student's result as a NumPy array (scipy sparse and matrices accepted)."""
    if result is None:
        raise Mismatch(what, "None", "your function returns nothing: add a `return` statement.")
    if sp.issparse(result):
        result = result.toarray()
    return np.asarray(result)


def as_mask(result, shape, what):
    """The student's result as a boolean array of ``shape``, or a Mismatch saying why not."""
    got = as_array(result, what)
    if got.shape != shape:
        hint = ""
        if got.shape == shape[::-1] and len(shape) == 2:
            hint = f"the shape is transposed: rows are the {shape[0]} inputs, columns the outputs."
        raise Mismatch(f"{what} of shape {shape}", f"shape {got.shape}", hint)
    if got.dtype != bool:
        if got.size and not np.isin(got, (0, 1)).all():
            raise Mismatch(f"{what} with True/False values", show(got),
                           "return a boolean mask (True = connection), not weights or indices.")
        got = got.astype(bool)
    return got
