"""The ``python -m setcourse.course build|check|reset`` command line."""
import argparse
import dataclasses
import json
from pathlib import Path

from ..checks import emit
from .build import build, find_root, notebooks_under, reset, stale_copies, write_atomic
from .grade import DEFAULT_TIMEOUT, check, format_result


def parser():
    """The ``python -m setcourse.course`` argument parser."""
    main_parser = argparse.ArgumentParser(
        prog="python -m setcourse.course",
        description="Build, check and reset the course's student notebooks.")
    commands = main_parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser(
        "build", help="generate the student copies in course/ from instructor/")
    build_parser.add_argument("--check", action="store_true",
                              help="write nothing; exit 1 if a student copy is stale")
    check_parser = commands.add_parser(
        "check", help="run notebooks (files or folders) and report each exercise and a score")
    check_parser.add_argument("paths", nargs="+", metavar="PATH")
    check_parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                              help="time limit for each notebook in all, kernel start and setup "
                                   "included, in seconds (default %(default)s)")
    check_parser.add_argument("--instructor", metavar="DIR",
                              help="instructor notebooks that say what to grade (default: "
                                   "instructor/ of the repository)")
    check_parser.add_argument("--against", metavar="NOTEBOOK",
                              help="grade every notebook against this instructor notebook")
    check_parser.add_argument("--fast", action="store_true",
                              help="set SETCOURSE_FAST=1: smaller data and fewer epochs")
    check_parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    reset_parser = commands.add_parser(
        "reset", help="restore a student notebook from its instructor source")
    reset_parser.add_argument("notebook")
    reset_parser.add_argument("--no-backup", action="store_true",
                              help="do not keep the student's version as NOTEBOOK.bakN")
    for sub in (build_parser, reset_parser):
        sub.add_argument("--instructor", metavar="DIR",
                         help="instructor notebooks (default: instructor/ of the repository)")
        sub.add_argument("--course", metavar="DIR",
                         help="student copies (default: course/ of the repository)")
    return main_parser


def main(argv=None):
    command_line = parser()
    args = command_line.parse_args(argv)
    if args.command == "check":
        if not args.timeout > 0:
            command_line.error(f"--timeout must be > 0 seconds, got {args.timeout}")
        results = check(args.paths, args.timeout, args.fast, args.instructor, args.against)
        for result in results:
            emit(format_result(result))
        if len(results) > 1:
            emit("\nsummary:")
            for result in results:
                emit(f"  {result.passed}/{len(result.exercises)}  {result.path}")
        if args.json:
            write_atomic(Path(args.json), json.dumps(
                [dataclasses.asdict(result) for result in results], indent=1, ensure_ascii=False))
        return 0 if results and all(result.ok for result in results) else 1
    try:
        if args.command == "build":
            root = None if args.instructor and args.course else find_root()
            instructor = Path(args.instructor) if args.instructor else root / "instructor"
            course = Path(args.course) if args.course else root / "course"
            if args.check:
                stale = stale_copies(instructor, course)
                for problem in stale:
                    emit(f"stale: {problem}")
                if stale:
                    emit("run: python -m setcourse.course build")
                return 1 if stale else 0
            written = build(instructor, course)
            for path in written:
                emit(f"wrote {path}")
            emit(f"{len(written)} student notebook(s) updated, "
                 f"{len(notebooks_under(instructor)) - len(written)} already up to date")
            for problem in stale_copies(instructor, course):
                emit(f"warning: {problem}")
            return 0
        saved = reset(args.notebook, args.instructor, args.course, backup=not args.no_backup)
        if saved:
            emit(f"your previous version is saved as {saved}")
        emit(f"reset {args.notebook} from its instructor source")
        return 0
    except (FileNotFoundError, ValueError) as exc:
        emit(f"error: {exc}")
        return 2

