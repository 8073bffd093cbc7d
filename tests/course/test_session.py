"""The notebooks' shared setup: fast mode from the environment, the data, offline fallback."""
import pytest

from setcourse.course import session, setup


@pytest.mark.parametrize("value, fast", [("1", True), ("0", False), ("", False), (None, False)])
def test_fast_mode_follows_the_environment(monkeypatch, value, fast):
    if value is None:
        monkeypatch.delenv("SETCOURSE_FAST", raising=False)
    else:
        monkeypatch.setenv("SETCOURSE_FAST", value)
    assert session.fast_mode() is fast


def loader_spy(monkeypatch):
    calls = []
    from setcourse import data

    def fake_load(name, **options):
        calls.append((name, options))
        return f"<{name}>"
    monkeypatch.setattr(data, "load", fake_load)
    return calls


@pytest.mark.parametrize("fast, sizes", [("1", (2000, 1000)), ("0", (10000, 5000))])
def test_setup_loads_the_subset_of_the_mode_with_the_fallback(monkeypatch, capsys, fast, sizes):
    monkeypatch.setenv("SETCOURSE_FAST", fast)
    calls = loader_spy(monkeypatch)
    got_fast, data = setup("fashion_mnist", n_train=10000, n_test=5000)
    assert (got_fast, data) == (fast == "1", "<fashion_mnist>")
    assert calls == [("fashion_mnist", dict(n_train=sizes[0], n_test=sizes[1],
                                            preprocess="scale", fallback=True))]
    assert capsys.readouterr().out == "<fashion_mnist>\n"


def test_setup_passes_options_on_and_can_stay_quiet(monkeypatch, capsys):
    monkeypatch.setenv("SETCOURSE_FAST", "0")
    calls = loader_spy(monkeypatch)
    setup("cifar10", n_train=100, n_test=50, preprocess="standardize", show=False, seed=3)
    assert calls[0][1] == dict(n_train=100, n_test=50, preprocess="standardize", fallback=True,
                               seed=3)
    assert capsys.readouterr().out == ""


def test_setup_without_the_data_files_falls_back_to_a_small_data_set(monkeypatch, capsys):
    monkeypatch.setenv("SETCOURSE_FAST", "1")
    fast, data = setup("fashion_mnist", n_train=10000, n_test=5000)  # no network in the tests
    assert fast and len(data.y_train) > 0 and data.X_train.shape[1] == data.X_test.shape[1]
    assert str(data) in capsys.readouterr().out


@pytest.mark.parametrize("name, asked, sizes", [
    ("coil20", (None, None), (960, 480)),         # smaller than the fast sizes
    ("fashion_mnist", (500, 300), (500, 300)),   # the full run asks for less
])
def test_fast_mode_never_asks_for_more_than_there_is(monkeypatch, name, asked, sizes):
    monkeypatch.setenv("SETCOURSE_FAST", "1")
    calls = loader_spy(monkeypatch)
    setup(name, n_train=asked[0], n_test=asked[1], show=False)
    assert (calls[0][1]["n_train"], calls[0][1]["n_test"]) == sizes
