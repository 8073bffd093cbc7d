"""Figures for the course: learning curves, degree distributions, input connectivity, resources.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` (the animation function
a ``FuncAnimation``) with a title and labelled axes with units. Figures are detached from
pyplot, so a notebook shows each one exactly once (when it is the cell's value, or with
``display(fig)``), nothing accumulates in long sessions, and they work headless (Agg):
save one with ``fig.savefig(path)``.

- :mod:`~setcourse.plots.figure`: detached figures and their PNG bytes (for the widgets).
- :mod:`~setcourse.plots.curves`: learning curves.
- :mod:`~setcourse.plots.topology`: degree distributions, input connectivity, NNSTD.
- :mod:`~setcourse.plots.resources`: CPU and memory over time, parameters vs dense.
- :mod:`~setcourse.plots.tables`: the results table of several models.
"""
from .curves import METRIC_LABELS, plot_learning_curves
from .figure import DPI, detached_figure, figure_png, new_figure
from .resources import plot_connections_per_layer, plot_monitor, plot_parameters
from .tables import results_rows, results_table
from .topology import (animation_html, connectivity_png, input_connectivity_animation,
                       plot_degree_distribution, plot_input_connectivity, plot_nnstd, save_gif)

__all__ = ["DPI", "METRIC_LABELS", "animation_html", "connectivity_png", "detached_figure",
           "figure_png", "input_connectivity_animation", "new_figure", "plot_connections_per_layer",
           "plot_degree_distribution", "plot_input_connectivity", "plot_learning_curves",
           "plot_monitor", "plot_nnstd", "plot_parameters", "results_rows", "results_table",
           "save_gif"]
