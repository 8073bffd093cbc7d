"""Module 01's ε demo: an ε slider showing each layer's density, parameters and memory, live."""
import ipywidgets as widgets
import numpy as np

from ..analysis.memory import sparsity_table
from ..plots.figure import figure_png, new_figure

__all__ = ["EpsilonDemo"]


def _megabytes(n_bytes):
    return f"{n_bytes / 1e6:,.2f} MB"


class EpsilonDemo:
    """An ε slider that shows each layer's density, parameter count and memory, live.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes from input to output.
    epsilon : float
        Initial ε.
    """

    def __init__(self, sizes=(784, 1000, 1000, 1000, 10), epsilon=20.0):
        self.sizes = tuple(int(s) for s in sizes)
        sparsity_table(self.sizes, epsilon)  # validates
        self.slider = widgets.FloatSlider(value=epsilon, min=1, max=200, step=1,
                                          description="ε", readout_format=".0f",
                                          continuous_update=True)
        self.slider.add_class("setcourse-epsilon")
        self.table = widgets.HTML()
        self.chart = widgets.Image(format="png")
        self.slider.observe(self._update, names="value")
        self.widget = widgets.VBox([self.slider, widgets.HBox([self.table, self.chart])])
        self._update()

    def _update(self, _change=None):
        rows = sparsity_table(self.sizes, self.slider.value)
        self.rows_ = rows
        cells = "".join(
            f"<tr><td>{r['n_in']}→{r['n_out']}</td><td>{r['p']:.4f}</td>"
            f"<td>{r['connections']:,}</td><td>{r['dense_connections']:,}</td>"
            f"<td>{_megabytes(r['bytes'])}</td><td>{_megabytes(r['dense_bytes'])}</td></tr>"
            for r in rows)
        total = sum(r["connections"] for r in rows)
        dense = sum(r["dense_connections"] for r in rows)
        stored = sum(r["bytes"] for r in rows)
        dense_bytes = sum(r["dense_bytes"] for r in rows)
        self.table.value = (
            "<table><tr><th>layer</th><th>density p</th><th>connections</th>"
            "<th>dense</th><th>memory</th><th>dense memory</th></tr>" + cells
            + f"<tr><th>total</th><th>{total / dense:.4f}</th><th>{total:,}</th><th>{dense:,}</th>"
            f"<th>{_megabytes(stored)}</th><th>{_megabytes(dense_bytes)}</th></tr></table>"
            f"<p>The sparse model stores <b>{stored / dense_bytes:.1%}</b> of the dense "
            f"model's bytes ({dense_bytes / stored:.1f}× less).</p>")
        figure = new_figure(4.4, 3.0)
        axes = figure.subplots()
        x = np.arange(len(rows))
        axes.bar(x - 0.2, [r["dense_bytes"] / 1e6 for r in rows], 0.4, label="dense", color="grey")
        axes.bar(x + 0.2, [r["bytes"] / 1e6 for r in rows], 0.4, label="sparse (CSR)")
        axes.set_xticks(x, [f"{r['n_in']}→{r['n_out']}" for r in rows], fontsize="small")
        axes.set(title=f"Parameter memory per layer, ε = {self.slider.value:.0f}",
                 xlabel="layer (inputs→outputs)", ylabel="memory (MB)")
        axes.legend(fontsize="small")
        self.chart.value = figure_png(figure)

    def display(self):
        """Show the demo."""
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
