"""The ``gan-bench`` command: parses arguments and dispatches to one command module.

Expected user errors (a bad config, a missing or corrupt file or weight, an output path that cannot
be written, running out of memory) print one line to stderr and exit with code 2; nothing is
written in that case. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from gan_bench import __version__, commands

USER_ERROR_EXIT = 2
OOM_HINT = "out of memory; try a smaller batch_size or eval.num_samples"
# OSErrors that come from the user's paths or disk (an --out that is a file, a read-only folder, a
# full disk), as opposed to a bug: those keep their traceback.
_PATH_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError)
_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.ENAMETOOLONG, errno.ELOOP}
_OUT_OPTIONS = ("out", "output")  # argparse destinations that name where a command writes


class UserError(Exception):
    """An error the user can fix; reported as one line, exit code 2."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from gan_bench.config import ConfigError
    from gan_bench.data.base import DataError
    from gan_bench.registry import UnknownNameError
    from gan_bench.train.checkpoint import CheckpointError

    found: list[type[BaseException]] = [UserError, ConfigError, DataError, UnknownNameError, CheckpointError,
                                        UnicodeDecodeError]
    try:  # the metrics harness adds its own (missing weights, bad inputs)
        from gan_bench.metrics.errors import MetricsInputError

        found.append(MetricsInputError)
    except ImportError:
        pass
    try:  # Pillow refuses images so large they look like decompression bombs
        from PIL.Image import DecompressionBombError

        found.append(DecompressionBombError)
    except ImportError:
        pass
    try:
        import yaml  # a corrupt YAML file read outside gan_bench.config

        found.append(yaml.YAMLError)
    except ImportError:
        pass
    return tuple(found)


def _is_out_of_memory(exc: BaseException) -> bool:
    """True for a CPU or GPU allocation failure (torch reports some only as a RuntimeError)."""
    import torch

    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t is not None)
    if isinstance(exc, (MemoryError, *oom_types)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "DefaultCPUAllocator: can't allocate" in text)


def user_error_message(exc: BaseException) -> str | None:
    """The one line to print when ``exc`` is an error the user can fix, else None (a bug)."""
    if isinstance(exc, _PATH_ERRORS) or (isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS):
        assert isinstance(exc, OSError)
        what = exc.strerror or type(exc).__name__
        return f"{what}: {exc.filename}" if exc.filename else _first_line(exc)
    if _is_out_of_memory(exc):
        return OOM_HINT
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not {exc.encoding} text (byte {exc.start}); is it the right file?"
    if isinstance(exc, _user_error_types()):
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _empty_out_option(args: argparse.Namespace) -> str | None:
    """The flag of an ``--out``-like option given as an empty string (it would mean "here")."""
    for name in _OUT_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, str) and not value.strip():
            return f"--{name}"
    return None


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
        p.set_defaults(_run=module.run, _parser=p)
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
            # the command's own parser, so that the line reads "gan-bench CMD: error: ..."
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    empty = _empty_out_option(args)
    if empty:
        print(f"gan-bench {args.command}: error: {empty} is empty; give a path", file=sys.stderr)
        return USER_ERROR_EXIT
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"gan-bench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = user_error_message(exc)
        if message is None:
            raise
        print(f"gan-bench {args.command}: error: {message}", file=sys.stderr)
        return USER_ERROR_EXIT


if __name__ == "__main__":
    sys.exit(main())
