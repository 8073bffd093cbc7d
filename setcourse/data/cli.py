"""Instructor commands: ``python -m setcourse data list | fetch NAME|all | import NAME DIR |
verify``.

``add_parser(subparsers)`` registers the ``data`` group on the main CLI; ``run(args)`` executes
it and returns the exit status (0 fine, 1 something failed).
"""
import argparse
import math
import sys

from . import cache, sources
from .errors import DataUnavailableError, UnsafeArchiveError
from .registry import DATASETS


def _seconds(text):
    """argparse type for --timeout: a number of seconds in (0, inf)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, inf); got {text!r}")
    return value


def _mirror(text):
    """argparse type for --mirror: base URL(s) of a local mirror."""
    try:
        sources.mirror_bases(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).replace("mirror must", "must")) from None
    return text


def add_parser(subparsers):
    """Add the ``data`` command group to an argparse ``subparsers`` object; returns its parser."""
    parser = subparsers.add_parser(
        "data", help="list, fetch, import and verify data sets",
        description="Manage the data-set cache (SETCOURSE_DATA, default: the user cache folder). "
                    "Extra folders with system copies can be listed in SETCOURSE_DATA_PATH; "
                    "SETCOURSE_MIRROR=URL names a local mirror tried before the published "
                    "ones.")
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    commands.add_parser("list", help="what is available, from where, verified or not, sizes")
    fetch = commands.add_parser("fetch", help="download a data set (or all) into the cache")
    fetch.add_argument("name", metavar="NAME|all", choices=[*DATASETS, "all"],
                       help=f"one of {', '.join(DATASETS)}, or all")
    fetch.add_argument("--timeout", type=_seconds, default=None,
                       help="seconds without data before a mirror is given up (default 30)")
    fetch.add_argument("--mirror", type=_mirror, default=None, metavar="URL",
                       help="base URL of a local mirror tried first, e.g. "
                            "http://192.168.1.10:8000/ (default: $SETCOURSE_MIRROR); files are "
                            "looked up by their published names and verified")
    importer = commands.add_parser(
        "import", help="copy a data set's files from a folder (USB stick, shared drive), verified")
    remote = [name for name, spec in DATASETS.items() if spec.files]
    importer.add_argument("name", metavar="NAME", choices=remote, help=", ".join(remote))
    importer.add_argument("folder", metavar="DIR", help="folder holding the published files")
    commands.add_parser("verify", help="check every cached and system copy against its sha256; "
                                       "corrupt cached files are removed")
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Execute a parsed ``data`` command; returns the exit status."""
    command = {"list": _list, "fetch": _fetch, "import": _import, "verify": _verify}
    return command[args.data_command](args)


def main(argv=None):
    """Stand-alone entry point: ``python -m setcourse.data.cli list``."""
    parser = argparse.ArgumentParser(prog="setcourse")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *(sys.argv[1:] if argv is None else argv)])
    return run(args)


def _list(args):
    rows = [("name", "status", "where", "size")]
    problems = []
    for spec in DATASETS.values():
        if not spec.files:
            rows.append((spec.name, "bundled", "scikit-learn", "-"))
            continue
        report = sources.file_report(spec)
        ok = [check for check in report if check.ok]
        bad = [check for check in report if not check.ok and check.problem]
        problems += [f"{spec.name}: {check.problem}" for check in bad]
        if bad:
            status = "FAILED checksum"
        elif len(ok) == len(report):
            status = "verified"
        elif ok:
            status = f"incomplete ({len(ok)} of {len(report)} files)"
        else:
            status = "not downloaded"
        where = sorted({f"{check.origin}: {check.path.parent}" for check in ok}) or ["-"]
        if len(ok) == len(report):
            size = _megabytes(sum(check.path.stat().st_size for check in ok))
        else:
            size = _megabytes(sum(remote.size for remote in spec.files)) + " to download"
        rows.append((spec.name, status, "; ".join(where), size))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    print(f"cache folder: {cache.cache_dir()} (set SETCOURSE_DATA to move it)")
    for problem in problems:
        print(problem)
    return 0


def _fetch(args):
    names = [name for name, spec in DATASETS.items() if spec.files] if args.name == "all" \
        else [args.name]
    failed = 0
    for name in names:
        spec = DATASETS[name]
        if not spec.files:
            print(f"{name}: bundled with scikit-learn, nothing to fetch")
            continue
        try:
            paths, origins = sources.ensure_files(spec, stream=sys.stderr, timeout=args.timeout,
                                                  mirror=getattr(args, "mirror", None))
            if cache.load_arrays(spec) is None:
                cache.save_arrays(spec, sources.parse_checked(spec, paths))
        except (DataUnavailableError, UnsafeArchiveError, ValueError) as error:
            print(f"{name}: {error}", file=sys.stderr)
            failed += 1
            continue
        where = "; ".join(sorted({str(path.parent) for path in paths.values()}))
        verb = "downloaded and verified" if "download" in origins else "verified"
        print(f"{name}: {verb} ({where})")
    return 1 if failed else 0


def _import(args):
    spec = DATASETS[args.name]
    try:
        imported = sources.import_folder(spec, args.folder)
        cache.save_arrays(spec, sources.parse_checked(
            spec, {remote.name: path for remote, path in zip(spec.files, imported)}))
    except (DataUnavailableError, UnsafeArchiveError, ValueError, OSError) as error:
        print(f"{args.name}: {error}", file=sys.stderr)
        return 1
    for path in imported:
        print(f"{args.name}: imported {path.name} (verified) into {path.parent}")
    return 0


def _verify(args):
    failed = 0
    for name, spec in DATASETS.items():
        if not spec.files:
            continue
        folder = cache.dataset_dir(name)
        for remote in spec.files:
            checks = [sources.check_file(remote, folder / candidate, "cache", remove_bad=True,
                                         dataset=name)
                      for candidate in remote.candidates() if (folder / candidate).is_file()]
            system = sources.find_file(remote, cache.system_folders(spec), "system", dataset=name)
            if system.ok:
                checks.append(system)
            for check in checks:
                if check.ok:
                    print(f"ok      {name}: {check.path} ({check.origin})")
                else:
                    failed += 1
                    print(f"FAILED  {name}: {check.problem}")
            if not checks:
                print(f"missing {name}: {remote.name} (fetch with `python -m setcourse data "
                      f"fetch {name}`)")
        arrays = cache.arrays_dir(spec)
        try:
            if cache.load_arrays(spec, strict=True) is not None:
                print(f"ok      {name}: parsed arrays in {arrays} (digests and registry)")
        except cache.CorruptArraysError as error:
            cache.remove_quietly(arrays)
            failed += 1
            print(f"FAILED  {name}: {error}; the parsed arrays in {arrays} were removed (rebuilt "
                  f"from the verified files on the next load)")
    return 1 if failed else 0


def _megabytes(n_bytes):
    return f"{n_bytes / 1e6:.1f} MB"


if __name__ == "__main__":
    sys.exit(main())
