"""Subcommands of ``gan-bench``: one module each, discovered by :mod:`gan_bench.cli`.

A command module defines ``NAME``, ``HELP`` and two functions: ``add_arguments(parser)`` and
``run(args) -> int``. ``run`` calls into the library and returns the exit code; argument parsing
stays here so the library never sees argparse.
"""
