"""Figures that pyplot does not track, and their PNG bytes (what the widgets show).

:func:`detached_figure` is what every ``plot_*`` function draws on: shown once when it is a
cell's value (or with ``display(fig)``), never leaked into later cells. :func:`new_figure`
has no pyplot state at all (an Agg canvas), so it is safe to draw from a training thread;
:func:`figure_png` turns either kind into PNG bytes for ``ipywidgets.Image``.
"""
import io

import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 80


def detached_figure(figsize):
    """A constrained-layout figure that pyplot does not track (shown once, never leaked)."""
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig


def new_figure(width=5.0, height=3.2):
    """A pyplot-free Figure with an Agg canvas (safe to draw from any thread)."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure, dpi=DPI):
    """PNG bytes of ``figure``; closes it if pyplot manages it (no figure leaks into the cell)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    if getattr(figure.canvas, "manager", None) is not None:
        plt.close(figure)
    return buffer.getvalue()
