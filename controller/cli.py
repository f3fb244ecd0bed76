"""The `pmc` command line. Exit codes: 0 ok, 1 failure, 2 usage.

Each command group lives in `controller/commands/<name>.py` with a `register(subparsers)` function
that adds its parser and sets `func` (a callable taking the parsed args and returning an exit code,
or a coroutine function, run with asyncio.run). Modules are imported lazily by name.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys

from controller.errors import PmcError

COMMAND_MODULES = (
    "controller.commands.ledger",
    "controller.commands.config",
    "controller.commands.demo",
    "controller.commands.stream",
    "controller.commands.presort",
    "controller.commands.fleet",
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmc",
        description="pmc: the production print and mail controller.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        result = asyncio.run(func(args)) if inspect.iscoroutinefunction(func) else func(args)
    except PmcError as exc:
        print(f"pmc: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("pmc: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
