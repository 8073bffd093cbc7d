"""Shared by the checker tests: call a checker and read what it printed."""


def run(checker, fn, capsys):
    """(returned value, printed text) of one checker call."""
    result = checker(fn)
    return result, capsys.readouterr().out


def assert_fails(checker, fn, capsys, *phrases):
    result, out = run(checker, fn, capsys)
    assert result is False, out
    assert out.startswith("✗ "), out
    for phrase in phrases:
        assert phrase in out, f"{phrase!r} not in:\n{out}"
    return out
