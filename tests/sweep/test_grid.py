"""Run specs, ids, grids, the --set syntax and mean ± sd: pure Python, no cluster."""
import argparse
import json

import pytest

from setcourse.sweep.aggregate import aggregate, format_table, mean_sd
from setcourse.sweep.cli import add_parser, grid_from_args, parse_values
from setcourse.sweep.grid import Grid, as_specs, run_id, split_spec, varying_keys


def test_the_grid_is_the_product_of_its_axes_in_order():
    grid = Grid(base={"dataset": "digits", "hidden": (16,)},
                vary={"topology": ["set", "fixprob"], "seed": range(3)})
    specs = grid.specs()
    assert len(grid) == 6
    assert [(s["topology"], s["seed"]) for s in specs] == [
        ("set", 0), ("set", 1), ("set", 2), ("fixprob", 0), ("fixprob", 1), ("fixprob", 2)]
    assert all(s["hidden"] == [16] and s["dataset"] == "digits" for s in specs)  # plain JSON
    json.dumps(specs)


def test_overrides_and_addition():
    grid = Grid(base={"lr": 0.05}, vary={"topology": ["set", "dense"], "seed": [0, 1]},
                overrides=[({"topology": "dense"}, {"lr": 0.04})])
    assert {(s["topology"], s["lr"]) for s in grid} == {("set", 0.05), ("dense", 0.04)}
    both = grid + Grid(base={"lr": 0.05}, vary={"topology": ["set", "fixprob"], "seed": [0]})
    assert len(both) == 5  # set/seed 0 is in both: once


def test_the_run_id_is_a_stable_hash_of_the_spec():
    spec = {"topology": "set", "epsilon": 13, "hidden": (1000, 1000), "seed": 0}
    same = {"seed": 0, "hidden": [1000, 1000], "epsilon": 13.0, "topology": "set"}
    assert run_id(spec) == run_id(same)
    assert len(run_id(spec)) == 12 and int(run_id(spec), 16) >= 0
    assert run_id(spec) != run_id({**spec, "seed": 1})
    assert run_id({"zeta": 0.3}) != run_id({"zeta": 0.30000001})
    # pinned: the id of a spec must not change between versions (it names the folders)
    assert run_id({"topology": "set", "seed": 0}) == "ae30a8fc0c62"


def test_split_spec_separates_data_model_and_recorders():
    data, params, recorders = split_spec(
        {"dataset": "digits", "n_train": 100, "data_seed": 3, "preprocess": "scale",
         "topology": "set", "seed": 1, "future_option": True, "recorders": "feature_selection"})
    assert data == {"name": "digits", "seed": 3, "n_train": 100, "preprocess": "scale"}
    assert params == {"topology": "set", "seed": 1, "future_option": True}
    assert recorders == ["feature_selection"]
    assert split_spec({})[0] == {"name": "fashion_mnist", "seed": 0}


def test_grid_files():
    grid = Grid.from_json({"base": {"epochs": 3}, "vary": {"topology": ["set", "dense"]},
                           "overrides": [{"when": {"topology": "dense"}, "set": {"lr": 0.04}}]})
    assert [s.get("lr") for s in grid] == [None, 0.04]
    runs = Grid.from_json({"base": {"epochs": 3}, "runs": [{"seed": 0}, {"seed": 1}]})
    assert [s for s in runs] == [{"epochs": 3, "seed": 0}, {"epochs": 3, "seed": 1}]
    mixed = Grid.from_json([{"vary": {"seed": [0, 1]}}, {"seed": 5, "topology": "dense"}])
    assert len(mixed) == 3
    with pytest.raises(ValueError, match="unknown keys"):
        Grid.from_json({"bases": {}})
    with pytest.raises(ValueError, match="empty"):
        Grid(vary={"seed": []})
    with pytest.raises(TypeError, match="JSON-able"):
        Grid(base={"x": object()})


def test_varying_keys():
    specs = as_specs([{"a": 1, "b": 2, "seed": 0}, {"a": 1, "b": 3, "seed": 1}, {"a": 1.0}])
    assert varying_keys(specs) == ["b", "seed"]
    assert varying_keys(specs, exclude=("seed",)) == ["b"]


@pytest.mark.parametrize("text, values", [
    ("set,fixprob", ["set", "fixprob"]),
    ("0..3", [0, 1, 2, 3]),
    ("0.05", [0.05]),
    ("[16],[32,32]", [[16], [32, 32]]),
    ("true,null", [True, None]),
    ('"a,b",c', ["a,b", "c"]),
    ("1e-4,2e-4", [1e-4, 2e-4]),
])
def test_set_values(text, values):
    assert parse_values(text) == values


def parse(argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sweep", *argv])


def test_the_command_line_describes_a_grid(tmp_path):
    args = parse(["--out", str(tmp_path), "--dataset", "digits", "--hidden", "16,16",
                  "--epochs", "2", "--set", "topology=set,fixprob", "--set", "seed=0..2",
                  "--set", "lr=0.05", "--recorder", "feature_selection"])
    specs = grid_from_args(args)
    assert len(specs) == 6
    assert specs[0] == {"dataset": "digits", "hidden": [16, 16], "epochs": 2, "lr": 0.05,
                        "recorders": ["feature_selection"], "topology": "set", "seed": 0}
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps({"base": {"epochs": 9}, "vary": {"seed": [0, 1, 2]},
                                     "overrides": [{"when": {"seed": 2}, "set": {"lr": 1}}]}))
    specs = grid_from_args(parse(["--out", str(tmp_path), "--grid", str(grid_file),
                                  "--set", "epochs=2", "--set", "topology=set,dense"]))
    assert len(specs) == 6 and {s["epochs"] for s in specs} == {2}
    assert [s.get("lr") for s in specs if s["seed"] == 2] == [1, 1]
    with pytest.raises(ValueError, match="twice"):
        grid_from_args(parse(["--out", "x", "--set", "seed=0", "--set", "seed=1"]))
    with pytest.raises(SystemExit):
        parse(["--out", "x", "--set", "no-equals-sign"])


def test_mean_and_sd_are_those_of_the_papers_table():
    """The original tutorial's five seeds (issue 13): sample sd (n - 1), as it reports."""
    table = {"set": ([0.842, 0.842, 0.851, 0.844, 0.839], 0.8436, 0.0045),
             "fixprob": ([0.849, 0.822, 0.839, 0.844, 0.841], 0.8390, 0.0102),
             "dense": ([0.819, 0.800, 0.812, 0.810, 0.836], 0.8154, 0.0134)}
    summaries = []
    for topology, (values, mean, sd) in table.items():
        got_mean, got_sd = mean_sd(values)
        assert round(got_mean, 4) == mean and round(got_sd, 4) == sd
        summaries += [{"run_id": f"{topology}{seed}", "status": "ok",
                       "spec": {"topology": topology, "seed": seed, "epochs": 400},
                       "final_test_accuracy": value} for seed, value in enumerate(values)]
    summaries.append({"run_id": "x", "status": "failed", "spec": {"topology": "set", "seed": 9}})
    rows = aggregate(summaries, metrics=("final_test_accuracy",))
    assert [row["group"] for row in rows] == [{"topology": t} for t in table]
    assert [row["n"] for row in rows] == [5, 5, 5]
    assert rows[0]["seeds"] == [0, 1, 2, 3, 4]
    text = format_table(rows, metrics=("final_test_accuracy",))
    assert "0.8436 ± 0.0045" in text and "0.8154 ± 0.0134" in text
    assert mean_sd([0.5])[1] != mean_sd([0.5])[1]  # one value: sd is NaN
    assert format_table([]) == "(no finished runs)"


class Terminal(__import__("io").StringIO):
    def isatty(self):
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere():
    from setcourse.sweep.runner import make_progress
    ok = {"run_id": "a" * 12, "status": "ok", "spec": {"seed": 1}, "final_test_accuracy": 0.5,
          "best_test_accuracy": 0.6, "seconds_per_epoch": 1.5, "peak_rss_mb": 300}
    bad = {"run_id": "b" * 12, "status": "failed", "spec": {"seed": 2}, "error": "ValueError: x"}
    terminal = Terminal()
    bar = make_progress("auto", 2, terminal, shown=["seed"])
    bar.update(ok)
    bar.update(bad)
    bar.close()
    text = terminal.getvalue()
    assert "\r" in text and "runs [" in text and "2/2" in text
    assert "FAILED  bbbbbbbbbbbb  seed=2  ValueError: x\n" in text  # failures stay visible
    assert "1 ok, 1 failed" in text
    plain = __import__("io").StringIO()
    lines = make_progress("auto", 2, plain, shown=["seed"])
    lines.update(ok)
    lines.update(bad)
    lines.close()
    assert plain.getvalue().splitlines()[:2] == [
        "[1/2] ok      aaaaaaaaaaaa  seed=1  test acc 0.5000 (best 0.6000)  1.5 s/epoch  300 MB",
        "[2/2] FAILED  bbbbbbbbbbbb  seed=2  ValueError: x"]


def test_curves_are_averaged_per_epoch_per_group(tmp_path):
    from setcourse.sweep.aggregate import aggregate_curves
    from setcourse.sweep.store import all_summaries, write_run
    for topology, seed, curve in [("set", 0, [0.1, 0.5, 0.7]), ("set", 1, [0.3, 0.7]),
                                  ("dense", 0, [0.2, 0.4, 0.6])]:
        spec = {"topology": topology, "seed": seed}
        write_run(tmp_path, {"summary": {"run_id": run_id(spec), "status": "ok", "spec": spec},
                             "history": {"test_accuracy": curve}})
    rows = {row["group"]["topology"]: row for row in aggregate_curves(tmp_path)}
    assert rows["set"]["n"] == 2 and rows["set"]["epoch"] == [0, 1]  # cut to the shortest
    assert rows["set"]["mean"] == pytest.approx([0.2, 0.6])
    assert rows["set"]["sd"] == pytest.approx([0.1414214, 0.1414214])
    assert rows["dense"]["mean"] == pytest.approx([0.2, 0.4, 0.6])
    only_dense = [s for s in all_summaries(tmp_path) if s["spec"]["topology"] == "dense"]
    assert len(aggregate_curves(tmp_path, summaries=only_dense, by=["topology"])) == 1
