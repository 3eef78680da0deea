"""The `segmap` command line.

Each subcommand lives in its own module under ``app/cli/commands`` and is discovered
here; a module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; ``segmap`` alone lists them. Errors the user can act on are
printed as one message with a hint, never as a traceback; exit codes are 0 (ok), 1 (the
work failed or found errors), 2 (usage), 130 (interrupted), 141 (the reader of the
output went away, as in ``segmap census F | head -1``: a normal end, said by nothing, the
status ``cat`` ends with there).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from app import allocator
from app.cli import commands
from app.cli._common import escaped_output
from app.errors import SegmapError


def command_names() -> list[str]:
    """Every command's name: its module's (``validate`` is ``commands/validate.py``), read
    from the folder without importing any."""
    return [info.name for info in pkgutil.iter_modules(commands.__path__)
            if not info.name.startswith("_")]


def _command_modules(names: Sequence[str]) -> list[ModuleType]:
    found = [importlib.import_module(f"app.cli.commands.{name}") for name in names]
    return sorted(found, key=lambda m: getattr(m, "ORDER", 50))


class _Version(argparse.Action):
    """``--version``: Segmap's version and its libraries' (read only when asked)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from app.about import version_text

        print(version_text())
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: of every command, or of ``command`` alone. A run of one command
    imports that command's module only: the others' (the upload's, the report's, ...) took
    0.2 s of a 1,000-case ``segmap validate``, before any case was read."""
    parser = argparse.ArgumentParser(
        prog="segmap",
        description="Get medical image segmentations into RedBrick AI: find, pair, map, "
        "merge, validate and export items lists.",
        epilog="`segmap COMMAND --help` shows a command's options; `segmap demo DIR` writes a "
        "dataset to try them on.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version, and every library with its licence")
    # Not required: `segmap` alone prints the commands instead of argparse's
    # "the following arguments are required: COMMAND".
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules(command_names() if command is None else [command]):
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `segmap` console script."""
    allocator.tune()
    argv = list(sys.argv[1:] if argv is None else argv)
    # The command is the first word (the options before it, --help and --version, print
    # and exit); anything else (none, a typo) gets the full parser, which lists them all.
    command = argv[0] if argv and argv[0] in command_names() else None
    try:
        with escaped_output():
            code = _main(build_parser(command), argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _pipe_closed()


_PIPE_CLOSED = 141  # 128 + SIGPIPE, what `cat` ends with when its reader goes away


def _pipe_closed() -> int:
    """The reader of stdout left (``| head``): stop quietly. Python flushes stdout again
    at shutdown and would print an error there, so stdout is pointed at the null device."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test's StringIO)
        pass
    return _PIPE_CLOSED


def _main(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with allocator.paced_collector():
            return int(args._run(args))
    except SegmapError as exc:
        print(f"segmap {args.command}: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # not a bug: main ends quietly
    except KeyboardInterrupt:
        print(f"segmap {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"segmap {args.command}: error: out of memory (Segmap checks each file's size "
              "against the free memory before reading it; something else took the rest).",
              file=sys.stderr)
        print("  hint: Close other programs, or run it on a machine with more memory.",
              file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: say so plainly, full details on request
        print(f"segmap {args.command}: internal error: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        if os.environ.get("SEGMAP_DEBUG"):
            traceback.print_exc()
        else:
            print("  This is a bug in Segmap. Run again with SEGMAP_DEBUG=1 for the details "
                  "and report them.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
