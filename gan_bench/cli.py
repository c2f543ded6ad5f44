"""The ``gan-bench`` command: parses arguments and dispatches to one command module.

Expected user errors (a bad config, a missing file or weight) print one line to stderr and exit
with code 2; nothing is written in that case.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from gan_bench import __version__, commands

USER_ERROR_EXIT = 2


class UserError(Exception):
    """An error the user can fix; reported as one line, exit code 2."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from gan_bench.config import ConfigError
    from gan_bench.data.base import DataError
    from gan_bench.registry import UnknownNameError

    found: list[type[BaseException]] = [UserError, ConfigError, DataError, UnknownNameError, FileNotFoundError]
    try:  # the metrics harness adds its own (missing weights, bad inputs)
        from gan_bench.metrics.errors import MetricsInputError

        found.append(MetricsInputError)
    except ImportError:
        pass
    return tuple(found)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gan-bench",
        description="Train GAN variants under fixed budgets and score them with one evaluation harness.",
    )
    parser.add_argument("--version", action="version", version=f"gan-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"gan_bench.commands.{info.name}")
        if not hasattr(module, "NAME"):
            continue
        p = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # argparse cannot place KEY=VALUE overrides after a second positional (``suite FILE ... k=v``),
    # so unknown KEY=VALUE words are collected here; anything else is still an error.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = list(args.overrides or []) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args._run(args) or 0)
    except _user_error_types() as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"gan-bench {args.command}: error: {message}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print(f"gan-bench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
