"""The ``tecktrack`` command.

Sub-commands live in :mod:`tecktrack.commands`: every module there that defines
``register(subparsers)`` adds its parser(s) and sets ``func`` to a handler
``handler(args) -> int`` (the others, such as ``options``, are shared helpers). Handlers
import heavy libraries lazily so ``--help`` stays fast.
A :class:`~tecktrack.errors.TeckTrackError` becomes a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from tecktrack import __version__
from tecktrack.errors import TeckTrackError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered.

    Examples
    --------
    >>> build_parser().prog
    'tecktrack'
    """
    parser = argparse.ArgumentParser(
        prog="tecktrack",
        description="TeckTrack: object-detection research workbench.",
    )
    parser.add_argument("--version", action="version", version=f"tecktrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    import tecktrack.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"tecktrack.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command)
            status = args.func(args)
        sys.stdout.flush()  # surface a closed pipe here, not at interpreter exit
    except TeckTrackError as exc:
        print(f"tecktrack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        _silence_stdout()
        return 141
    return int(status or 0)


def _warning_printer(command: str):
    """Warnings as one line on stderr (``tecktrack CMD: warning: ...``), not file:lineno."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"tecktrack {command}: warning: {message}", file=sys.stderr)

    return show


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
