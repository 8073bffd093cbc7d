"""The first code cell of every course notebook, as one function: fast-mode switch and data.

``SETCOURSE_FAST=1`` (what the tests and ``course check --fast`` set) makes every notebook
run in a couple of minutes: smaller data subsets here, and fewer epochs and smaller models
in the cells that read the returned ``FAST``. Data comes from :func:`setcourse.data.load`
with ``fallback=True``, so a notebook runs offline too (on a small stand-in data set).
"""
import os

FAST_VARIABLE = "SETCOURSE_FAST"
FAST_SIZES = (2000, 1000)


def fast_mode():
    """True when the environment asks for the fast mode (``SETCOURSE_FAST=1``)."""
    return os.environ.get(FAST_VARIABLE) == "1"


def setup(dataset="fashion_mnist", n_train=10000, n_test=5000, preprocess="scale", show=True,
          **load_options):
    """Fast-mode switch and the notebook's data: returns ``(FAST, data)``.

    Parameters
    ----------
    dataset : str
        A name of :data:`setcourse.data.DATASETS`.
    n_train, n_test : int
        Subset sizes of the full run; the fast mode uses ``FAST_SIZES`` (2,000 / 1,000).
    preprocess : str or None
        As in :func:`setcourse.data.load`; ``"scale"`` keeps pixels in ``[0, 1]``.
    show : bool
        Print the data set's one-line description (name, sizes, source).
    **load_options
        Passed on to :func:`setcourse.data.load` (e.g. ``seed``).
    """
    from ..data import DATASETS, load
    fast = fast_mode()
    if fast:
        # Never more than the data set has (COIL-20 holds 960 / 480) or than the full run asks.
        full = DATASETS[dataset].sizes if dataset in DATASETS else FAST_SIZES
        n_train, n_test = (min(size, asked or size, whole)
                           for size, asked, whole in zip(FAST_SIZES, (n_train, n_test), full))
    data = load(dataset, n_train=n_train, n_test=n_test, preprocess=preprocess, fallback=True,
                **load_options)
    if show:
        print(data)
    return fast, data
