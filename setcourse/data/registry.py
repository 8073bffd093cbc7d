"""The data sets setcourse knows: where each is published, its checksums and its metadata.

Every remote file is pinned by the sha256 of its *payload* (the bytes after gunzip), so the
official ``.gz``, Debian's re-compressed copy and a mirror all verify. CIFAR-10 is the one
exception: no digest of its unpacked members is published, so its archive is pinned as
published (sha256 of ``cifar-10-binary.tar.gz``, whose official md5 is
c32a1d4ab5d03f1284b67883e8d87530).
"""
from dataclasses import dataclass

import numpy as np

from . import formats

SIZE_SLACK = 1.25          # a download may be this much larger than the registered size ...
SIZE_MARGIN = 1 << 20      # ... plus 1 MiB (headers of a re-compressed copy, a newline or two)

@dataclass(frozen=True)
class RemoteFile:
    """One file a data set needs and the URLs it is published at (official first).

    A URL ending in ``#member`` names a member of a zip or tar archive at that address.
    ``size`` is the published download size in bytes (for the instructor's listing);
    ``payload_size`` the size after gunzip when it differs (a mirror may serve either).
    ``whole_file`` pins the file as published instead of its gunzipped payload.
    """

    name: str
    sha256: tuple
    size: int
    urls: tuple
    whole_file: bool = False
    payload_size: int = None

    def candidates(self):
        """File names under which a copy of this file may sit in a folder."""
        return (self.name,) if self.whole_file else (self.name + ".gz", self.name)

    @property
    def max_bytes(self):
        """The most bytes a download of this file may take: the larger of the published and
        payload sizes plus a quarter and 1 MiB of slack; None when no size is known."""
        known = max(self.size or 0, self.payload_size or 0)
        return int(known * SIZE_SLACK) + SIZE_MARGIN if known > 0 else None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything about one data set except its arrays."""

    name: str
    title: str
    class_names: tuple
    image_shape: tuple
    sizes: tuple                     # (n_train, n_test) of the full release
    files: tuple                     # RemoteFile, ...; empty for a bundled data set
    parse: object                    # callable {file name: path} -> {"X_train": ..., ...}
    value_range: tuple = None        # raw feature range for preprocess="scale"; None: per feature
    folder_names: tuple = ()         # sub-folder names a copy may sit in (e.g. "fashion-mnist")
    homepage: str = ""
    licence: str = ""


def _idx_files(base_urls, digests, sizes):
    """The four MNIST-style IDX files, each at ``base + name + '.gz'`` for every base URL.

    Payload sizes follow from the IDX headers: 60,000 / 10,000 images of 28×28 bytes after a
    16-byte header, one byte per label after an 8-byte header.
    """
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    payloads = (16 + 60000 * 784, 8 + 60000, 16 + 10000 * 784, 8 + 10000)
    return tuple(RemoteFile(name, (digest,), size, tuple(f"{base}{name}.gz" for base in base_urls),
                            payload_size=payload)
                 for name, digest, size, payload in zip(names, digests, sizes, payloads))


def _bundled_digits(paths):
    """scikit-learn's 8×8 digits with a fixed split: every fifth image of each class is test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.uint8)
    y = digits.target.astype(np.uint8)
    is_test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        is_test[np.flatnonzero(y == label)[::5]] = True
    return {"X_train": X[~is_test], "y_train": y[~is_test],
            "X_test": X[is_test], "y_test": y[is_test]}


FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    title="Fashion-MNIST: 28×28 grey images of 10 kinds of clothing (Zalando)",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    image_shape=(28, 28),
    sizes=(60000, 10000),
    files=_idx_files(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
         "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"),
        ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
         "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
         "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
         "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        (26421880, 29515, 4422102, 5148)),
    parse=formats.parse_idx_dataset,
    value_range=(0, 255),
    folder_names=("fashion-mnist", "fashion_mnist"),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    licence="MIT",
)

MNIST = DatasetSpec(
    name="mnist",
    title="MNIST: 28×28 grey images of handwritten digits",
    class_names=tuple(str(digit) for digit in range(10)),
    image_shape=(28, 28),
    sizes=(60000, 10000),
    # The original site (last) has refused plain downloads at times, so the two widely used
    # mirrors come first; the payload digests are the same for all three.
    files=_idx_files(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/",
         "http://yann.lecun.com/exdb/mnist/"),
        ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
         "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
         "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
         "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        (9912422, 28881, 1648877, 4542)),
    parse=formats.parse_idx_dataset,
    value_range=(0, 255),
    folder_names=("mnist",),
    homepage="http://yann.lecun.com/exdb/mnist/",
    licence="CC BY-SA 3.0",
)

CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10: 32×32 colour images of 10 object classes (binary release)",
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"),
    image_shape=(32, 32, 3),
    sizes=(50000, 10000),
    files=(RemoteFile(
        "cifar-10-binary.tar.gz",
        ("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",),
        170052171,
        ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
         "https://storage.googleapis.com/s4tf-hosted-binaries/datasets/CIFAR10/"
         "cifar-10-binary.tar.gz"),
        whole_file=True),),
    parse=formats.parse_cifar10,
    value_range=(0, 255),
    folder_names=("cifar10", "cifar-10", "cifar-10-binary"),
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    licence="no licence stated; cite Krizhevsky (2009)",
)

_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/madelon/"
_UCI_ZIP = "https://archive.ics.uci.edu/static/public/171/madelon.zip#"

MADELON = DatasetSpec(
    name="madelon",
    title="Madelon (NIPS 2003 feature selection): 500 features, 20 of which matter",
    class_names=("-1", "+1"),
    image_shape=(500,),
    sizes=(2000, 600),
    files=(
        RemoteFile("madelon_train.data",
                   ("0b6e37711efdc7ab74250c51e7d6966bffd9f8f2b0e9971e882c3a7a380c2314",), 4001995,
                   (_UCI + "MADELON/madelon_train.data", _UCI_ZIP + "MADELON/madelon_train.data")),
        RemoteFile("madelon_train.labels",
                   ("10bffcc3b017467cb810d326b931951adcbde2b4870faf981da2991993b48689",), 5000,
                   (_UCI + "MADELON/madelon_train.labels",
                    _UCI_ZIP + "MADELON/madelon_train.labels")),
        RemoteFile("madelon_valid.data",
                   ("cb9a46475147de1a58d9f15ef4c318e5b85de344e0f9ab92626fa446aa815dc9",), 1200599,
                   (_UCI + "MADELON/madelon_valid.data", _UCI_ZIP + "MADELON/madelon_valid.data")),
        # The same 600 labels circulate with and without a final newline; both digests accepted.
        RemoteFile("madelon_valid.labels",
                   ("fbac32fa87fac41ab731994a1c824e7b25396069bff6df242c01fe240fcb34dc",
                    "1aa311db914031ce44fc1dcf00fe4a0c31becb6c5c4e809db7fec13eead58fcc"), 1500,
                   (_UCI + "madelon_valid.labels", _UCI_ZIP + "madelon_valid.labels")),
    ),
    parse=formats.parse_madelon,
    folder_names=("madelon", "MADELON"),
    homepage="https://archive.ics.uci.edu/dataset/171/madelon",
    licence="CC BY 4.0",
)

_SKFEATURE = "jundongl/scikit-feature"

COIL20 = DatasetSpec(
    name="coil20",
    title="COIL-20: 32×32 grey images of 20 objects on a turntable, 72 views each (Columbia)",
    class_names=tuple(f"object {number}" for number in range(1, 21)),
    image_shape=(32, 32),
    sizes=(960, 480),
    # COIL20.mat as scikit-feature publishes it (variables X: 1440×1024 in [0, 1], Y: labels
    # 1..20), the file the original SET-RBM reads; the same git blob (8f374909) sits on the
    # project's web site and in its repository. The split is the original's (see the parser).
    files=(RemoteFile(
        "COIL20.mat",
        ("4595ebdda07f47b0eb014fcfaddc22b452f9aed9c1d9261a0d5bc336c1ee1344",), 3024549,
        ("https://jundongl.github.io/scikit-feature/files/datasets/COIL20.mat",
         f"https://raw.githubusercontent.com/{_SKFEATURE}/master/skfeature/data/COIL20.mat",
         f"https://raw.githubusercontent.com/{_SKFEATURE}/gh-pages/files/datasets/COIL20.mat",
         "http://featureselection.asu.edu/files/datasets/COIL20.mat")),),
    parse=formats.parse_coil20,
    value_range=(0, 1),
    folder_names=("coil20", "COIL20", "coil-20"),
    homepage="https://www.cs.columbia.edu/CAVE/software/softlib/coil-20.php",
    licence="non-commercial research use; cite Nene, Nayar & Murase (1996), CUCS-005-96",
)

DIGITS = DatasetSpec(
    name="digits",
    title="digits: scikit-learn's bundled 8×8 handwritten digits (always available offline)",
    class_names=tuple(str(digit) for digit in range(10)),
    image_shape=(8, 8),
    sizes=(1433, 364),
    files=(),
    parse=_bundled_digits,
    value_range=(0, 16),
    homepage="https://archive.ics.uci.edu/dataset/80",
    licence="CC BY 4.0",
)

#: name -> DatasetSpec, in the order the instructor's listing shows them.
DATASETS = {spec.name: spec for spec in (FASHION_MNIST, MNIST, CIFAR10, MADELON, COIL20,
                                          DIGITS)}

#: Folders where an operating-system package installs a data set (Debian/Ubuntu's
#: ``dataset-fashion-mnist``). A module attribute so that tests can point it elsewhere.
SYSTEM_DIRS = {"fashion_mnist": ("/usr/share/datasets/fashion-mnist",)}
