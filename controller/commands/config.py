"""`pmc config check FILE`."""

from __future__ import annotations

import argparse

from controller.config import load_plant_config


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="plant configuration files")
    cmds = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = cmds.add_parser("check", help="validate a plant file and show what it describes")
    check.add_argument("file", help="the plant TOML file")
    check.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    config = load_plant_config(args.file)
    print(f"{args.file}: ok (site {config.site})")
    print(f"  ledger          {config.ledger.path}")
    for p in config.printers:
        caps = ", ".join(filter(None, [f"{p.speed_ipm} ipm", "duplex" if p.duplex else "simplex",
                                      "colour" if p.colour else "mono", "/".join(p.media)]))
        print(f"  printer         {p.name:<10} {p.ipp_url}  ({caps})")
    for i in config.inserters:
        print(f"  inserter        {i.name:<10} {i.url}  ({i.stations} stations, {i.bins} bins)")
    for c in config.cameras:
        print(f"  camera          {c.name:<10} {c.url}  ({c.position} of {c.inserter})")
    for lp in config.label_printers:
        print(f"  label printer   {lp.name:<10} {lp.url}")
    if config.mqtt:
        print(f"  mqtt            {config.mqtt.url}")
    print(f"  web             http://{config.web.host}:{config.web.port}/")
    return 0
