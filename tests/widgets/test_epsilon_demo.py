"""Module 01's ε demo and its memory calculator (setcourse.analysis.memory)."""
import pytest

from setcourse import widgets as W
from setcourse import MLP
from setcourse.nn.sparsity import erdos_renyi_density, n_connections
from widgets.widget_helpers import PNG


@pytest.mark.parametrize("epsilon", [1.0, 5.0, 20.0, 60.0])
def test_sparsity_table_matches_a_built_model(epsilon):
    sizes = (64, 40, 30, 10)
    model = MLP(hidden=sizes[1:-1], epsilon=epsilon, seed=1).build(sizes[0], sizes[-1])
    rows = W.sparsity_table(sizes, epsilon)
    assert [r["connections"] for r in rows] == model.nnz_
    assert sum(r["bytes"] for r in rows) == model.parameter_bytes()
    assert sum(r["dense_bytes"] for r in rows) == model.dense_parameter_bytes()
    for row, layer in zip(rows, model.layers_):
        assert row["sparse"] == layer.sparse


def test_sparsity_table_density_is_the_erdos_renyi_formula():
    (row,) = W.sparsity_table((784, 1000), 20)
    assert row["p"] == pytest.approx(20 * (784 + 1000) / (784 * 1000))
    assert row["connections"] == round(row["p"] * 784 * 1000)


@pytest.mark.parametrize("epsilon", [0, -1, float("nan")])
def test_sparsity_table_rejects_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        W.sparsity_table((10, 10), epsilon)


def test_epsilon_demo_updates_live():
    demo = W.EpsilonDemo(sizes=(784, 300, 10), epsilon=20)
    assert "setcourse-epsilon" in demo.slider._dom_classes
    table, chart = demo.table.value, demo.chart.value
    assert bytes(chart).startswith(PNG)
    demo.slider.value = 3
    assert demo.rows_[0]["connections"] == n_connections(
        erdos_renyi_density(3, 784, 300), 784, 300)
    assert demo.table.value != table and demo.chart.value != chart
    assert f"{demo.rows_[0]['connections']:,}" in demo.table.value
