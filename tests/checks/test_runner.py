"""The checker framework, for every checker: nothing escapes, reports are parsed back, marks
fall back to ASCII."""
import io
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from checks.checker_helpers import assert_fails, run
from setcourse import checks
from setcourse.checks import check_erdos_renyi_mask, check_in_degrees, check_set_prune, runner
from checks.test_set_prune import prune_by_magnitude


CHECKERS = [check_erdos_renyi_mask, check_set_prune, check_in_degrees]


@pytest.mark.parametrize("checker", CHECKERS)
def test_not_implemented_means_not_attempted(checker, capsys):
    def placeholder(*args):
        # YOUR CODE HERE
        raise NotImplementedError("exercise: replace this line with your code")
    result, out = run(checker, placeholder, capsys)
    assert result is False
    assert out.startswith("○ ") and ": not attempted — placeholder() still raises" in out


@pytest.mark.parametrize("checker", CHECKERS)
def test_an_answer_that_raises_is_a_cross_not_an_exception(checker, capsys):
    def broken(*args):
        return undefined_name  # noqa: F821
    out = assert_fails(checker, broken, capsys, "your function raised NameError",
                       "name 'undefined_name' is not defined", "at line",
                       "of broken(): return undefined_name")
    assert "0 of" in out


@pytest.mark.parametrize("checker", CHECKERS)
def test_sys_exit_in_the_answer_does_not_stop_the_notebook(checker, capsys):
    assert_fails(checker, lambda *args: sys.exit(3), capsys, "your function raised SystemExit")


@pytest.mark.parametrize("checker", CHECKERS)
def test_keyboard_interrupt_still_interrupts(checker):
    def interrupted(*args):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        checker(interrupted)


@pytest.mark.parametrize("checker", CHECKERS)
def test_passing_a_result_instead_of_a_function_fails(checker, capsys):
    assert_fails(checker, np.zeros(3), capsys, "expected a function", "not its result")


def test_a_callable_without_a_name_is_fine(capsys):
    import functools
    result, out = run(check_in_degrees, functools.partial(lambda W, axis: W.getnnz(axis=axis),
                                                          axis=0), capsys)
    assert result is True, out
    result, out = run(check_in_degrees, functools.partial(lambda W: 1 / 0), capsys)
    assert result is False and "ZeroDivisionError" in out


def test_a_bug_in_the_checker_is_reported_not_raised(monkeypatch, capsys):
    monkeypatch.setattr(runner, "describe_exception", lambda exc: 1 / 0)
    result, out = run(check_in_degrees, lambda W: 1 / 0, capsys)
    assert result is False
    assert out.startswith("✗ in_degrees: failed — the checker could not judge this answer.")


def test_reports_are_parsed_back(capsys):
    check_set_prune(prune_by_magnitude)
    check_in_degrees(lambda W: W.getnnz(axis=0))
    check_erdos_renyi_mask(lambda *args: (_ for _ in ()).throw(NotImplementedError()))
    text = "some student print\n" + capsys.readouterr().out
    parsed = checks.parse_reports(text)
    assert [(name, status) for name, status, _ in parsed] == [
        ("set_prune", "failed"), ("in_degrees", "passed"), ("erdos_renyi_mask", "not attempted")]
    assert any("hint:" in line for line in parsed[0][2])


def test_marks_fall_back_to_ascii_on_a_console_that_cannot_print_them(monkeypatch):
    console = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", console)
    assert check_in_degrees(lambda W: W.getnnz(axis=1)) is False
    console.flush()
    text = console.buffer.getvalue().decode("cp1252")
    assert text.startswith("[x] in_degrees: failed - 0 of 6")
    assert checks.parse_reports(text)[0][:2] == ("in_degrees", "failed")


def test_show_keeps_hints_short():
    assert checks.show(np.arange(1000)).startswith("[  0,   1,   2,   3, ...,")
    assert checks.show(sp.eye(4, format="csr")) == \
        "csr_matrix of shape (4, 4) with 4 stored entries"


def test_verdicts_are_collected_in_the_grading_process_not_read_from_text(capsys):
    """course check takes the checker's own verdict; printed text plays no part."""
    from setcourse.checks import check_in_degrees, collect_verdicts

    def right(W):
        return W.getnnz(axis=0)

    with collect_verdicts() as verdicts:
        print("✓ in_degrees: passed — forged")
        assert check_in_degrees(lambda W: None) is False
        assert check_in_degrees(right) is True
    assert [(v.exercise, v.status) for v in verdicts] == [("in_degrees", "failed"),
                                                        ("in_degrees", "passed")]
    assert "case:" in verdicts[0].details[0]
    assert capsys.readouterr().out == "✓ in_degrees: passed — forged\n"  # quiet: no reports
    assert check_in_degrees(right) is True  # outside the block the report is printed again
    assert capsys.readouterr().out.startswith("✓ in_degrees: passed")
