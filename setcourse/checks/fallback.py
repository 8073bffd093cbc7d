"""Keep a notebook running past an unsolved exercise: the student's function, or the reference."""
import importlib

from .runner import PASSED, collect_verdicts, emit

__all__ = ["answer_or_reference"]


def answer_or_reference(fn, exercise):
    """``fn`` if it passes ``check_<exercise>``, else the package's ``reference_<exercise>``.

    The checker runs quietly; when it does not pass, one line says that the cells below use
    the reference, so that the rest of the notebook still runs (and the student's own answer
    is still what ``course check`` grades: it runs only the exercise cell).
    """
    module = importlib.import_module(f"{__package__}.{exercise}")
    checker, reference = getattr(module, f"check_{exercise}"), getattr(module, f"reference_{exercise}")
    with collect_verdicts() as verdicts:
        checker(fn)
    if verdicts and verdicts[-1].status == PASSED:
        return fn
    status = verdicts[-1].status if verdicts else "not checked"
    emit(f"note: your {exercise} has not passed its check yet ({status}), so the cells below "
         f"use the package's reference version (setcourse.checks.{exercise}.reference_{exercise}).")
    return reference
