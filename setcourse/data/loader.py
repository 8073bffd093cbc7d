"""``load``: a data set as float32 train/test arrays, subset, preprocessed and described."""
import sys
from dataclasses import dataclass, field

import numpy as np

from .._validation import check_choice, check_positive_int
from . import sources
from .errors import DataUnavailableError
from .registry import DATASETS

PREPROCESSING = ("standardize", "scale", "binarize", None)
FALLBACK = "digits"
#: Stand-ins tried (only from the cache or a system folder, never downloaded) before ``digits``.
STAND_INS = {"coil20": ("fashion_mnist",)}
BINARY_THRESHOLD = 0.5
ROWS_PER_CHUNK = 1024


@dataclass(repr=False)
class Dataset:
    """Train and test arrays plus what is needed to show them; unpacks as
    ``X_train, y_train, X_test, y_test = dataset``.

    Attributes
    ----------
    X_train, X_test : (n_samples, n_features) float32, or (n_samples, *image_shape) unflattened
    y_train, y_test : (n_samples,) int64 class labels in ``0..len(class_names)-1``
    name : str
        The data set actually returned (``digits`` after a fallback).
    class_names : list of str
    image_shape : tuple
        Shape of one sample before flattening, e.g. ``(28, 28)`` or ``(32, 32, 3)``.
    source : str
        Where it came from: "cache", "system", "download" or "bundled".
    notice : str or None
        The line printed when ``fallback=True`` replaced the wanted data set by ``digits``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    class_names: list = field(default_factory=list)
    image_shape: tuple = ()
    source: str = ""
    notice: str = None

    def __iter__(self):
        return iter((self.X_train, self.y_train, self.X_test, self.y_test))

    @property
    def n_classes(self):
        """Number of classes."""
        return len(self.class_names)

    def __repr__(self):
        return (f"Dataset({self.name!r}, train={self.X_train.shape}, test={self.X_test.shape}, "
                f"classes={self.n_classes}, source={self.source!r})")


#: How ``n_train`` / ``n_test`` rows are picked (see :func:`load`).
SUBSETS = ("stratified", "tutorial")


def load(name, n_train=None, n_test=None, seed=0, preprocess="scale", flatten=True,
         fallback=False, mirror=None, data_dir=None, subset="stratified"):
    """Load a data set as float32 features and int64 labels.

    Parameters
    ----------
    name : {"fashion_mnist", "mnist", "cifar10", "madelon", "coil20", "digits"}
        ``coil20`` comes split as the original SET-RBM splits it: 960 training images (a
        random two-thirds, NumPy seed 0) and 480 test images; its raw values are in [0, 1].
    n_train, n_test : int, optional
        Sizes of stratified random subsets (equal count per class as far as the classes allow),
        the same for the same ``seed``; ``None`` keeps the whole split in its published order.
    seed : int >= 0
    subset : {"stratified", "tutorial"}
        ``stratified``: as above. ``tutorial``: the SET tutorial's selection
        (``load_fashion_mnist_data``): a legacy ``np.random.RandomState(seed)`` shuffles the
        training index, then, from the same stream, the test index, and the first ``n_train``
        / ``n_test`` rows are taken in that order (``seed=0`` gives the tutorial's images).
    preprocess : {"scale", "standardize", "binarize", None}
        The default, ``scale``, cannot blow up rare pixels: with ``standardize`` a border pixel
        that is almost always 0 gets values up to 185, and SET, which regrows connections from
        such pixels, diverged on the tutorial's protocol (epoch 12-21 of 3 seeds).
        ``standardize``: per feature, subtract the training mean and divide by the training
        standard deviation (features constant in training are divided by 1):
        :math:`x' = (x - \\mu_{train}) / \\sigma_{train}`. ``scale``: map the raw value range
        (pixels 0..255, digits 0..16, COIL-20 0..1, Madelon's training min..max per feature)
        to [0, 1]. ``binarize``: scale, then 1 where the scaled value is >= 0.5 and 0 elsewhere
        (binary data for an RBM). ``None``: the raw values as float32.
    flatten : bool
        True: ``(n_samples, n_features)``; False: ``(n_samples, *image_shape)``.
    fallback : bool
        When the data set cannot be had (offline, nothing cached), return the bundled
        ``digits`` instead and print one line saying why and how to fetch the wanted one.
        (With ``preprocess="binarize"`` the stand-in is binarised like the wanted data.)
    mirror : str or list of str, optional
        Base URL(s) of a local mirror tried before the registered ones, e.g.
        ``"http://192.168.1.10:8000/"``; default: ``$SETCOURSE_MIRROR`` when set. Files are
        looked up by their published names and verified like every download.
    data_dir : str or Path, optional
        A folder holding the published files (a USB stick, a shared drive; also its usual
        sub-folders such as ``coil20/``), searched before the system folders; its files are
        verified and used in place (``python -m setcourse data import`` copies them instead).

    Returns
    -------
    Dataset
    """
    check_choice("name", name, tuple(DATASETS))
    check_choice("preprocess", preprocess, PREPROCESSING)
    check_positive_int("seed", seed, minimum=0)
    check_choice("flatten", flatten, (True, False))
    check_choice("fallback", fallback, (True, False))
    check_choice("subset", subset, SUBSETS)
    sources.mirror_bases(mirror)
    sources.check_data_dir(data_dir)
    spec = DATASETS[name]
    for param, value, available in (("n_train", n_train, spec.sizes[0]),
                                    ("n_test", n_test, spec.sizes[1])):
        if value is not None:
            _check_size(param, value, available, name)
    notice = None
    try:
        raw, source = sources.obtain_arrays(spec, mirror=mirror, data_dir=data_dir)
    except DataUnavailableError as error:
        if not fallback or name == FALLBACK:
            raise
        spec, raw, source = _stand_in(name)
        n_train = None if n_train is None else min(n_train, len(raw["y_train"]))
        n_test = None if n_test is None else min(n_test, len(raw["y_test"]))
        what = "the bundled 8x8 digits" if spec.name == FALLBACK else \
            f"{spec.name} (found in the {source})"
        notice = (f"setcourse: {name} could not be loaded ({error.reason}); using {what} "
                  f"instead ({n_train or len(raw['y_train'])} train / "
                  f"{n_test or len(raw['y_test'])} test images). To get {name}: "
                  f"python -m setcourse data fetch {name}")
        print(notice, file=sys.stderr, flush=True)
    if subset == "tutorial":
        X_train, y_train, X_test, y_test = _tutorial_subset(raw, n_train, n_test, seed, name)
    else:
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)]
        X_train, y_train = _subset(raw["X_train"], raw["y_train"], n_train, "n_train", rngs[0],
                                   name)
        X_test, y_test = _subset(raw["X_test"], raw["y_test"], n_test, "n_test", rngs[1], name)
    X_train, X_test = _preprocess(X_train, X_test, preprocess, spec.value_range)
    shape = (-1,) if flatten else spec.image_shape
    return Dataset(X_train.reshape(len(X_train), *shape), y_train.astype(np.int64),
                   X_test.reshape(len(X_test), *shape), y_test.astype(np.int64),
                   name=spec.name, class_names=list(spec.class_names),
                   image_shape=tuple(spec.image_shape), source=source, notice=notice)


def _stand_in(name):
    """``(spec, arrays, source)`` of the first stand-in for ``name`` at hand without a
    download, else of the bundled digits."""
    for other in STAND_INS.get(name, ()):
        try:
            raw, source = sources.obtain_arrays(DATASETS[other], download=False)
        except DataUnavailableError:
            continue
        return DATASETS[other], raw, source
    raw, source = sources.obtain_arrays(DATASETS[FALLBACK])
    return DATASETS[FALLBACK], raw, source


def _check_size(param, value, available, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
            not 1 <= value <= available:
        raise ValueError(f"{param} must be an integer in [1, {available}] ({name} has "
                         f"{available} samples in that split); got {value!r}")


def _subset(X, y, n, param, rng, name):
    """A stratified random subset of ``n`` rows in their original order (all rows if None)."""
    if n is None:
        return X, y
    _check_size(param, n, len(y), name)
    classes, counts = np.unique(y, return_counts=True)
    quota = balanced_quota(counts, n, rng)
    chosen = [rng.choice(np.flatnonzero(y == label), size=k, replace=False)
              for label, k in zip(classes, quota) if k]
    rows = np.sort(np.concatenate(chosen))
    return X[rows], y[rows]


def balanced_quota(counts, n, rng):
    """Rows to take from each class: as equal as the class sizes allow, summing to ``n``.

    Classes too small for an equal share give all they have and the rest is spread over the
    others; the few left over after an even split go to randomly chosen classes.
    """
    counts = np.asarray(counts)
    quota = np.zeros_like(counts)
    remaining = n
    while remaining:
        open_classes = np.flatnonzero(quota < counts)
        share = remaining // len(open_classes)
        if share == 0:
            quota[rng.choice(open_classes, size=remaining, replace=False)] += 1
            break
        added = np.minimum(share, counts[open_classes] - quota[open_classes])
        quota[open_classes] += added
        remaining -= int(added.sum())
    return quota


def _preprocess(X_train, X_test, how, value_range):
    """float32 features, standardised or scaled with training statistics.

    Works through row chunks so that each float32 output is written once: a full-size
    float32 copy followed by in-place passes would move several times the memory.
    """
    train = X_train.reshape(len(X_train), -1)
    test = X_test.reshape(len(X_test), -1)
    if how is None:
        return train.astype(np.float32), test.astype(np.float32)
    if how == "binarize":
        train, test = _preprocess(X_train, X_test, "scale", value_range)
        return _binarize(train), _binarize(test)
    if how == "standardize":
        offset, divisor = _column_mean_std(train)
    elif value_range is not None:
        offset, divisor = np.float64(value_range[0]), np.float64(value_range[1] - value_range[0])
    else:
        offset = train.min(axis=0).astype(np.float64)
        divisor = train.max(axis=0) - offset
    divisor = np.where(divisor == 0, 1.0, divisor)  # constant features: never divide by zero
    offset, divisor = np.asarray(offset, np.float64), np.asarray(divisor, np.float64)
    return _affine(train, offset, divisor), _affine(test, offset, divisor)


def _binarize(X):
    """0/1 float32 in place: 1 where the scaled value reaches ``BINARY_THRESHOLD``."""
    for start in range(0, len(X), ROWS_PER_CHUNK):
        chunk = X[start:start + ROWS_PER_CHUNK]
        np.greater_equal(chunk, BINARY_THRESHOLD, out=chunk, casting="unsafe")
    return X


def _affine(X, offset, divisor):
    """``(X - offset) / divisor`` in float64, stored as a new float32 array, chunk by chunk.

    float64 then one rounding, as the SET tutorial's ``x / 255.``: its pretrained runs are
    reproduced bit for bit only on the same float32 inputs (a float32 multiply by 1/255 is
    1 ulp off on some pixels).
    """
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, len(X), ROWS_PER_CHUNK):
        rows = X[start:start + ROWS_PER_CHUNK].astype(np.float64)
        rows -= offset
        rows /= divisor
        out[start:start + ROWS_PER_CHUNK] = rows
    return out


def _column_mean_std(X):
    """Per-column mean and standard deviation (float64) in two passes over row chunks: exact
    float64 sums for the mean, then float32 squares of centred values summed per chunk (no
    E[x²] - E[x]² cancellation, no full-size temporary)."""
    n = max(len(X), 1)
    total = np.zeros(X.shape[1])
    for start in range(0, len(X), ROWS_PER_CHUNK):
        total += X[start:start + ROWS_PER_CHUNK].sum(axis=0, dtype=np.float64)
    mean = total / n
    mean32 = mean.astype(np.float32)
    squares = np.zeros(X.shape[1])
    for start in range(0, len(X), ROWS_PER_CHUNK):
        centred = X[start:start + ROWS_PER_CHUNK] - mean32
        squares += np.einsum("ij,ij->j", centred, centred)
    return mean, np.sqrt(squares / n)


def _tutorial_subset(raw, n_train, n_test, seed, name):
    """The SET tutorial's rows: one legacy shuffle of the train index, then of the test index."""
    legacy = np.random.RandomState(seed)  # the tutorial's np.random.seed(0) stream
    picked = []
    for split, count, what in (("train", n_train, "n_train"), ("test", n_test, "n_test")):
        total = len(raw[f"y_{split}"])
        if count is not None:
            check_positive_int(what, count)
            if count > total:
                raise ValueError(f"{what} must be in [1, {total}] for {name}; got {count}")
        order = np.arange(total)
        legacy.shuffle(order)
        order = order[:count]
        picked += [raw[f"X_{split}"][order], raw[f"y_{split}"][order]]
    return picked
