"""The `pmc` command line. Exit codes: 0 ok, 1 failure, 2 usage.

Each command group lives in `controller/commands/<name>.py` with a `register(subparsers)` function
that adds its parser and sets `func` (a callable taking the parsed args and returning an exit code,
or a coroutine function, run with asyncio.run). Modules are imported lazily by name.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import sys

from controller.errors import PmcError

# command -> (module, one-line help); `pmc --help` lists these without importing the modules
COMMANDS = {
    "ledger": ("controller.commands.ledger", "the piece ledger: read it, import a print plan's pieces"),
    "config": ("controller.commands.config", "plant configuration files"),
    "demo": ("controller.commands.demo", "run a simulated print room end to end"),
    "stream": ("controller.commands.stream", "print streams: inspect, reorder, split"),
    "presort": ("controller.commands.presort", "presort a list of mail pieces into trays, print the postage summary"),
    "fleet": ("controller.commands.fleet", "the printer fleet"),
}
COMMAND_MODULES = tuple(module for module, _ in COMMANDS.values())

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _chosen(argv: list[str]) -> str | None:
    """The command named in argv (its first word that is not an option), if it is one of ours."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given argv, only the module of the command it names is imported
    (the others would cost start-up time: pydantic, numpy...), the rest appear by name and help."""
    parser = argparse.ArgumentParser(
        prog="pmc",
        description="pmc: the production print and mail controller.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv) if argv is not None else None
    for name, (module, help_text) in COMMANDS.items():
        if argv is None or name == chosen:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if inspect.iscoroutinefunction(func):
            import asyncio  # only the commands that need it pay for it (50 ms of start-up)

            result = asyncio.run(func(args))
        else:
            result = func(args)
    except PmcError as exc:
        print(f"pmc: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("pmc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pmc ... | head`: the reader has gone; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's last flush does not fail again
        return EXIT_FAILURE
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
