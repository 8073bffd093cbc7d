"""The course's interactive widgets, one per file.

- :mod:`~setcourse.widgets.epsilon_demo`: module 01's ε demo (:class:`EpsilonDemo`).
- :mod:`~setcourse.widgets.set_dashboard`: module 02's SET dashboard (:class:`SETDashboard`;
  :func:`class_dashboard` builds it as notebooks 02 and 03 show it).
- :mod:`~setcourse.widgets.scrubber`: module 03's epoch scrubber (:class:`EpochScrubber`).
- :mod:`~setcourse.widgets.chooser`: module 04's algorithm chooser (:class:`AlgorithmChooser`).
- :mod:`~setcourse.widgets.trainer`: training in a background thread behind Train/Stop.
- :mod:`~setcourse.widgets.progress`: progress bars for ``fit`` and for loops over runs (on
  :mod:`setcourse.progress`, which the command line shares).

Figures are drawn on matplotlib's Agg canvas into PNG bytes shown by ``ipywidgets.Image``
(:mod:`setcourse.plots.figure`): no front-end extension is needed.
"""
from ..analysis.memory import sparsity_table
from ..evolution import STRATEGIES
from ..plots.figure import figure_png
from .chooser import AlgorithmChooser, strategy_knobs
from .epsilon_demo import EpsilonDemo
from .progress import TrainingProgress, progress
from .scrubber import EpochScrubber
from .set_dashboard import CLASS_SETTINGS, SETDashboard, class_dashboard

__all__ = ["AlgorithmChooser", "CLASS_SETTINGS", "EpochScrubber", "EpsilonDemo", "SETDashboard", "STRATEGIES",
           "TrainingProgress", "class_dashboard", "figure_png", "progress", "sparsity_table",
           "strategy_knobs"]
