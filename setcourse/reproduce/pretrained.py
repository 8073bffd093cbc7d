"""The long runs a class cannot do, kept small in the package: histories, per-epoch input
connectivity and degree sequences of a protocol's runs (no weights), with their provenance.

``pack(out_dir, protocol)`` turns a finished :func:`~setcourse.reproduce.run.reproduce` folder
into one gzipped JSON file; :func:`load_pretrained` reads it back as a
:class:`~setcourse.reproduce.run.Reproduction`, validated before use.
"""
import gzip
import json
import platform
import time
from pathlib import Path

from .. import __version__
from .._atomic import atomic_file
from .protocols import protocol as get_protocol
from .run import Reproduction

FOLDER = Path(__file__).parent / "pretrained"
#: History keys kept (timings per phase and the like are left out: they describe a machine).
HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
                "seconds_epoch", "nnz")
FORMAT = 1


def cpu_model():
    """The processor's model name (Linux), else the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pretrained_path(name):
    return FOLDER / f"{name}.json.gz"


def pack(reproduction, path=None, command=None, note=""):
    """Write ``reproduction``'s runs (a :class:`Reproduction`) to ``path`` atomically."""
    proto = reproduction.protocol
    runs = []
    for run in reproduction.runs:
        summary = run["summary"]
        runs.append({
            "label": run["label"], "seed": run["seed"], "spec": run["spec"],
            "run_id": run["run_id"],
            "summary": {key: summary.get(key) for key in (
                "final_test_accuracy", "best_test_accuracy", "seconds_per_epoch",
                "seconds_per_epoch_median", "peak_rss_mb", "nnz", "versions", "host")},
            "history": {key: run["history"][key] for key in HISTORY_KEYS
                        if key in run["history"]},
            "records": run["records"]})
    document = {"format": FORMAT, "protocol": proto.name, "setcourse_version": __version__,
                "created": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
                "cpu": cpu_model(),
                "command": command or f"python -m setcourse reproduce {proto.name}",
                "note": note, "runs": runs}
    path = Path(path or pretrained_path(proto.name))
    with atomic_file(path) as temp, gzip.open(temp, "wt", encoding="utf-8") as handle:
        json.dump(document, handle, separators=(",", ":"))
    return path


def load_pretrained(name="fashion-mnist-set", path=None):
    """The packed runs of protocol ``name`` as a :class:`Reproduction` (``.provenance`` too)."""
    proto = get_protocol(name)
    path = Path(path or pretrained_path(name))
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, EOFError, ValueError) as error:
        raise ValueError(f"{path}: not a readable pretrained-runs file ({error})") from None
    _check(document, proto, path)
    result = Reproduction(proto, document["runs"])
    result.provenance = {key: document[key] for key in
                         ("protocol", "setcourse_version", "created", "machine", "cpu",
                          "command", "note")}
    return result


def _check(document, proto, path):
    def fail(problem):
        raise ValueError(f"{path}: {problem}")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        fail(f"format must be {FORMAT}; got {document.get('format') if isinstance(document, dict) else document!r:.40}")
    if document.get("protocol") != proto.name:
        fail(f"holds protocol {document.get('protocol')!r}, not {proto.name!r}")
    runs = document.get("runs")
    if not isinstance(runs, list) or not runs:
        fail("has no runs")
    for index, run in enumerate(runs):
        if not isinstance(run, dict) or run.get("label") not in proto.models:
            fail(f"run {index}: label must be one of {', '.join(proto.models)}")
        history = run.get("history", {})
        accuracy = history.get("test_accuracy")
        if not isinstance(accuracy, list) or not accuracy or not all(
                isinstance(a, (int, float)) and 0 <= a <= 1 for a in accuracy):
            fail(f"run {index} ({run['label']} seed {run.get('seed')}): test_accuracy must be a "
                 f"non-empty list of numbers in [0, 1]")
        for key, values in history.items():
            if not isinstance(values, list) or len(values) != len(accuracy):
                fail(f"run {index}: history {key!r} must have one value per epoch")
