"""Plant configuration: one TOML file describes a print room.

Validated with pydantic; a wrong file raises ConfigError naming the file, the key path (such as
`printers[2].ipp_url`) and what was expected. Unknown keys are errors too: a typo must not be ignored.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from controller.errors import ConfigError

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ValueError(f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}, got {value!r}")
    if parts.scheme not in ("file",) and not parts.netloc and not parts.path:
        raise ValueError(f"URL {value!r} names no host or device")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerConfig(_Strict):
    path: str = "pmc-ledger.sqlite"


class PrinterConfig(_Strict):
    name: Name
    ipp_url: str
    snmp_url: str | None = None
    speed_ipm: int = Field(default=100, gt=0, description="impressions per minute")
    media: list[str] = Field(default_factory=lambda: ["letter"], min_length=1)
    duplex: bool = True
    colour: bool = False

    @field_validator("ipp_url")
    @classmethod
    def _ipp(cls, v: str) -> str:
        return _check_url(v, ("ipp", "ipps", "http", "https"))

    @field_validator("snmp_url")
    @classmethod
    def _snmp(cls, v: str | None) -> str | None:
        return None if v is None else _check_url(v, ("snmp",))


class InserterConfig(_Strict):
    name: Name
    url: str = Field(description="a serial device path or a pyserial URL such as socket://127.0.0.1:7001")
    stations: int = Field(default=2, ge=0, le=32, description="selective-insert feeder stations")
    bins: int = Field(default=1, ge=1, le=8, description="divert bins")
    speed_eph: int = Field(default=14000, gt=0, description="envelopes per hour")


class CameraConfig(_Strict):
    name: Name
    url: str
    inserter: Name
    position: Literal["input", "output"] = "input"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v.startswith("/dev/"):
            return v
        return _check_url(v, ("http", "https"))


class LabelPrinterConfig(_Strict):
    name: Name
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v, ("tcp",))


class MqttConfig(_Strict):
    url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = "pmc"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v, ("mqtt", "mqtts"))


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class PlantConfig(_Strict):
    site: Name = "site"
    ledger: LedgerConfig = LedgerConfig()
    printers: list[PrinterConfig] = Field(default_factory=list)
    inserters: list[InserterConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
    label_printers: list[LabelPrinterConfig] = Field(default_factory=list)
    mqtt: MqttConfig | None = None
    web: WebConfig = WebConfig()

    @model_validator(mode="after")
    def _names(self) -> "PlantConfig":
        seen: dict[str, str] = {}
        for kind in ("printers", "inserters", "cameras", "label_printers"):
            for i, device in enumerate(getattr(self, kind)):
                if device.name in seen:
                    raise ValueError(f"{kind}[{i}].name: {device.name!r} is already the name of one of the {seen[device.name]}")
                seen[device.name] = kind
        inserters = {i.name for i in self.inserters}
        for i, camera in enumerate(self.cameras):
            if camera.inserter not in inserters:
                raise ValueError(f"cameras[{i}].inserter: no inserter is named {camera.inserter!r}")
        return self


def _key_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_plant_config(text: str, *, source: str = "<string>") -> PlantConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return PlantConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if err["type"] == "extra_forbidden":
                msg = "unknown key (a typo?)"
            lines.append(f"{source}: {_key_path(loc)}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def load_plant_config(path: str | os.PathLike[str]) -> PlantConfig:
    """Read and validate a plant file; a relative ledger path is taken relative to the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from exc
    config = parse_plant_config(text, source=str(p))
    ledger = Path(config.ledger.path)
    if not ledger.is_absolute():
        config = config.model_copy(update={"ledger": LedgerConfig(path=str(p.parent / ledger))})
    return config
