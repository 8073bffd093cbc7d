"""Parsers for the published raw formats: IDX (the MNIST family), CIFAR-10 binary, Madelon text.

Each parser checks the sizes its header or format promises, so a truncated or foreign file
fails with a ValueError naming what was expected instead of yielding a wrong array.
Nothing here unpickles: CIFAR-10 is read from its *binary* release.
"""
import io
import math
import struct

import numpy as np

from .archives import read_tar_members
from .checksum import read_payload

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); data are big-endian.
IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

CIFAR10_SIDE = 32
CIFAR10_RECORD = 1 + 3 * CIFAR10_SIDE * CIFAR10_SIDE
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch.bin"

MADELON_FEATURES = 500


def read_idx(data, what="IDX data"):
    """The array stored in IDX bytes ``data`` (native byte order).

    Raises ValueError when the magic number is wrong or the size disagrees with the header.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise ValueError(f"{what} is not an IDX file (magic bytes {bytes(data[:4]).hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{what} is truncated inside its IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_TYPES[data[2]])
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{what} holds {len(data)} bytes, but its IDX header (shape {shape}) "
                         f"needs {expected}: the file is truncated or padded")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx_file(path):
    """The array in an IDX file, gzip or not."""
    return read_idx(read_payload(path), what=str(path))


def parse_idx_dataset(paths):
    """Train/test arrays from the four MNIST-style IDX files in ``paths`` (name -> path)."""
    arrays = {
        "X_train": read_idx_file(paths["train-images-idx3-ubyte"]),
        "y_train": read_idx_file(paths["train-labels-idx1-ubyte"]),
        "X_test": read_idx_file(paths["t10k-images-idx3-ubyte"]),
        "y_test": read_idx_file(paths["t10k-labels-idx1-ubyte"]),
    }
    for split in ("train", "test"):
        if arrays[f"X_{split}"].shape[0] != arrays[f"y_{split}"].shape[0]:
            raise ValueError(f"{split} images and labels disagree in number: "
                             f"{arrays[f'X_{split}'].shape[0]} vs {arrays[f'y_{split}'].shape[0]}")
    return arrays


def read_cifar10_batch(data, what="CIFAR-10 batch"):
    """Images ``(n, 32, 32, 3)`` uint8 (height, width, channel) and labels from binary records.

    Each record is one label byte and 3072 pixel bytes: the red, green and blue planes, each
    32×32 in row-major order (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version").
    """
    if len(data) == 0 or len(data) % CIFAR10_RECORD:
        raise ValueError(f"{what} holds {len(data)} bytes, not a whole number of "
                         f"{CIFAR10_RECORD}-byte CIFAR-10 records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0].copy()
    if labels.max() > 9:
        raise ValueError(f"{what} has label {labels.max()}; CIFAR-10 labels are 0..9")
    planes = records[:, 1:].reshape(-1, 3, CIFAR10_SIDE, CIFAR10_SIDE)
    # Channel-last so that a flattened row reshapes to the registered image shape (32, 32, 3).
    return np.ascontiguousarray(planes.transpose(0, 2, 3, 1)), labels


def parse_cifar10(paths):
    """Train/test arrays read straight from ``cifar-10-binary.tar.gz`` (nothing is extracted)."""
    members = read_tar_members(paths["cifar-10-binary.tar.gz"],
                               {*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH})
    train = [read_cifar10_batch(members[name], name) for name in CIFAR10_TRAIN_BATCHES]
    X_test, y_test = read_cifar10_batch(members[CIFAR10_TEST_BATCH], CIFAR10_TEST_BATCH)
    return {"X_train": np.concatenate([images for images, _ in train]),
            "y_train": np.concatenate([labels for _, labels in train]),
            "X_test": X_test, "y_test": y_test}


def read_madelon_features(data, what="Madelon data"):
    """The ``(n, 500)`` int16 feature matrix from Madelon's whitespace-separated text."""
    try:
        matrix = np.loadtxt(io.BytesIO(data), dtype=np.int16, ndmin=2)
    except ValueError as error:
        raise ValueError(f"{what} is not a whitespace-separated integer matrix "
                         f"({error})") from error
    if matrix.shape[1] != MADELON_FEATURES:
        raise ValueError(f"{what} has {matrix.shape[1]} columns; Madelon has {MADELON_FEATURES}")
    return matrix


def read_madelon_labels(data, what="Madelon labels"):
    """Labels -1/+1 (one per line) mapped to 0/1."""
    try:
        labels = np.loadtxt(io.BytesIO(data), dtype=np.int64, ndmin=1)
    except ValueError as error:
        raise ValueError(f"{what} is not one integer label per line ({error})") from error
    if not np.isin(labels, (-1, 1)).all():
        raise ValueError(f"{what} holds labels other than -1 and +1")
    return (labels > 0).astype(np.uint8)


def parse_madelon(paths):
    """Train/test arrays from the UCI Madelon files; the labelled validation set is the test set."""
    arrays = {}
    for split, part in (("train", "train"), ("test", "valid")):
        data = paths[f"madelon_{part}.data"]
        labels = paths[f"madelon_{part}.labels"]
        arrays[f"X_{split}"] = read_madelon_features(read_payload(data), str(data))
        arrays[f"y_{split}"] = read_madelon_labels(read_payload(labels), str(labels))
        if arrays[f"X_{split}"].shape[0] != arrays[f"y_{split}"].shape[0]:
            raise ValueError(f"{data} and {labels} disagree in number of rows")
    return arrays


COIL20_SIDE = 32
COIL20_CLASSES = 20
COIL20_SPLIT_SEED = 0


def read_coil20(data, what="COIL20.mat"):
    """Images ``(n, 32, 32)`` float64 in [0, 1] (upright) and labels 0..19 from COIL20.mat bytes.

    The file holds ``X`` (n × 1024, each row a 32×32 image stored column by column, as MATLAB
    does) and ``Y`` (n × 1, labels 1..20). Read with ``scipy.io.loadmat``: a MATLAB v5 file
    holds no code, nothing is unpickled.
    """
    import scipy.io

    try:
        mat = scipy.io.loadmat(io.BytesIO(data))
    except Exception as error:  # scipy raises ValueError, TypeError, MatReadError, ... here
        raise ValueError(f"{what} is not a readable MATLAB file ({type(error).__name__}: "
                         f"{error})") from error
    if "X" not in mat or "Y" not in mat:
        found = sorted(key for key in mat if not key.startswith("__"))
        raise ValueError(f"{what} lacks the variables X and Y (it holds {found})")
    X, Y = np.asarray(mat["X"]), np.asarray(mat["Y"])
    pixels = COIL20_SIDE * COIL20_SIDE
    if X.ndim != 2 or X.shape[1] != pixels or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{what}: X must be numeric n × {pixels}; got {X.dtype} {X.shape}")
    if Y.size != X.shape[0] or not np.issubdtype(Y.dtype, np.number):
        raise ValueError(f"{what}: Y must hold one label per image ({X.shape[0]}); got "
                         f"{Y.dtype} {Y.shape}")
    X = X.astype(np.float64, copy=False)
    if not np.isfinite(X).all() or X.min() < 0 or X.max() > 1:
        raise ValueError(f"{what}: X must hold finite values in [0, 1]")
    labels = Y.reshape(-1)
    if not np.isin(labels, np.arange(1, COIL20_CLASSES + 1)).all():
        raise ValueError(f"{what}: Y must hold labels 1..{COIL20_CLASSES}")
    images = X.reshape(-1, COIL20_SIDE, COIL20_SIDE).transpose(0, 2, 1)
    return np.ascontiguousarray(images), (labels - 1).astype(np.uint8)


def coil20_split(n):
    """``(train rows, test rows)``: the original SET-RBM's split of ``n`` images.

    The original seeds NumPy's global generator with 0, shuffles ``arange(n)`` and takes the
    first ``int(n * 2 / 3)`` as training rows (960 of 1,440), in that shuffled order.
    """
    rows = np.arange(n)
    np.random.RandomState(COIL20_SPLIT_SEED).shuffle(rows)
    cut = int(n * 2 / 3)
    return rows[:cut], rows[cut:]


def parse_coil20(paths):
    """Train/test arrays from ``COIL20.mat``, split as the original SET-RBM splits it."""
    path = paths["COIL20.mat"]
    images, labels = read_coil20(read_payload(path), str(path))
    train, test = coil20_split(len(labels))
    return {"X_train": images[train], "y_train": labels[train],
            "X_test": images[test], "y_test": labels[test]}
