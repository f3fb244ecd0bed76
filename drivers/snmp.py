"""SNMP status poller for printers: RFC 3805 Printer MIB and RFC 2790 Host Resources MIB, over pysnmp 7.

    async with SnmpManager() as snmp:                      # one engine, one UDP socket for the fleet
        lp3 = await snmp.open_printer("snmp://10.0.0.3:161?community=public")
        status = await lp3.poll()                          # PrinterStatus, never raises for a dead printer
        statuses = await poll_fleet(printers, concurrency=16)

One poll is one GETBULK: the scalars (uptime, device and printer status, error bits, name, page
counter) as non-repeaters and the table columns (trays, supplies, alerts, console text) as repeaters;
only tables longer than the first answer covers cost another request. A part the agent does not have
(noSuchObject, an empty column) or that timed out is None, "unknown", in the `PrinterStatus`; the
reason is kept in `PrinterStatus.problems` and the mapped exception in `PrinterStatus.error`.

pysnmp error indications and exceptions are translated here, once, into drivers.errors:
RequestTimedOut -> DeviceTimeoutError; USM failures -> SnmpAuthError; undecodable answers ->
WireProtocolError; anything else -> DeviceError. Communities and v3 keys are credentials: they are not
part of a printer's name, its repr, or any message.

The enumerations are written out here from the MIB texts (RFC 3805, IANA-PRINTER-MIB, RFC 2790) and
share nothing with simulators/snmp_agent.py; Net-SNMP's snmpd and tools pin both sides.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import Iterable
from urllib.parse import parse_qs, urlsplit

from pyasn1.type.univ import Null
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmDESPrivProtocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACMD5AuthProtocol,
    usmHMACSHAAuthProtocol,
    usmNoAuthProtocol,
    usmNoPrivProtocol,
)
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto import errind, rfc1905
from pysnmp.proto.rfc1902 import ObjectName

from drivers.errors import DeviceError, DeviceTimeoutError, WireProtocolError

logger = logging.getLogger(__name__)

__all__ = [
    "AlertCode",
    "AlertGroup",
    "AlertSeverity",
    "CounterUnit",
    "DeviceState",
    "InputTray",
    "MarkerSupply",
    "PrinterAlert",
    "PrinterError",
    "PrinterState",
    "PrinterStatus",
    "SnmpAuthError",
    "SnmpManager",
    "SnmpPrinter",
    "SnmpV3Credentials",
    "SpecialLevel",
    "SupplyType",
    "open_snmp_printer",
    "poll_fleet",
    "poll_urls",
]


class SnmpAuthError(DeviceError):
    """The agent refused our credentials (unknown user, wrong digest, undecryptable, wrong community is a timeout)."""


# ---- enumerations, from the MIB texts ----------------------------------------------------------


class DeviceState(enum.Enum):
    """hrDeviceStatus (RFC 2790)."""

    UNKNOWN = 1
    RUNNING = 2
    WARNING = 3
    TESTING = 4
    DOWN = 5


class PrinterState(enum.Enum):
    """hrPrinterStatus (RFC 2790)."""

    OTHER = 1
    UNKNOWN = 2
    IDLE = 3
    PRINTING = 4
    WARMUP = 5


class PrinterError(enum.Enum):
    """hrPrinterDetectedErrorState bits (RFC 2790, bits 8-14 added by RFC 3805). Value: the bit number."""

    LOW_PAPER = 0
    NO_PAPER = 1
    LOW_TONER = 2
    NO_TONER = 3
    DOOR_OPEN = 4
    JAMMED = 5
    OFFLINE = 6
    SERVICE_REQUESTED = 7
    INPUT_TRAY_MISSING = 8
    OUTPUT_TRAY_MISSING = 9
    MARKER_SUPPLY_MISSING = 10
    OUTPUT_NEAR_FULL = 11
    OUTPUT_FULL = 12
    INPUT_TRAY_EMPTY = 13
    OVERDUE_PREVENT_MAINT = 14


class AlertSeverity(enum.Enum):
    """PrtAlertSeverityLevelTC (RFC 3805)."""

    OTHER = 1
    CRITICAL = 3
    WARNING = 4
    WARNING_BINARY_CHANGE_EVENT = 5


class AlertGroup(enum.Enum):
    """PrtAlertGroupTC (IANA-PRINTER-MIB)."""

    OTHER = 1
    HOST_RESOURCES_STORAGE_TABLE = 3
    HOST_RESOURCES_DEVICE_TABLE = 4
    GENERAL_PRINTER = 5
    COVER = 6
    LOCALIZATION = 7
    INPUT = 8
    OUTPUT = 9
    MARKER = 10
    MARKER_SUPPLIES = 11
    MARKER_COLORANT = 12
    MEDIA_PATH = 13
    CHANNEL = 14
    INTERPRETER = 15
    CONSOLE_DISPLAY_BUFFER = 16
    CONSOLE_LIGHTS = 17
    ALERT = 18
    FIN_DEVICE = 30
    FIN_SUPPLY = 31
    FIN_SUPPLY_MEDIA_INPUT = 32
    FIN_ATTRIBUTE = 33


class AlertCode(enum.Enum):
    """PrtAlertCodeTC (IANA-PRINTER-MIB); the codes a print room acts on. Others stay plain ints."""

    OTHER = 1
    UNKNOWN = 2
    COVER_OPEN = 3
    COVER_CLOSED = 4
    INTERLOCK_OPEN = 5
    INTERLOCK_CLOSED = 6
    CONFIGURATION_CHANGE = 7
    JAM = 8
    SUBUNIT_MISSING = 9
    SUBUNIT_LIFE_ALMOST_OVER = 10
    SUBUNIT_LIFE_OVER = 11
    SUBUNIT_ALMOST_EMPTY = 12
    SUBUNIT_EMPTY = 13
    SUBUNIT_ALMOST_FULL = 14
    SUBUNIT_FULL = 15
    SUBUNIT_OFFLINE = 22
    SUBUNIT_WARMING_UP = 24
    SUBUNIT_RECOVERABLE_FAILURE = 29
    SUBUNIT_UNRECOVERABLE_FAILURE = 30
    DOOR_OPEN = 501
    DOOR_CLOSED = 502
    POWER_UP = 503
    POWER_DOWN = 504
    PRINTER_READY_TO_PRINT = 507
    INPUT_MEDIA_TRAY_MISSING = 801
    INPUT_MEDIA_SUPPLY_LOW = 807
    INPUT_MEDIA_SUPPLY_EMPTY = 808
    INPUT_MEDIA_CHANGE_REQUEST = 809
    INPUT_MANUAL_INPUT_REQUEST = 810
    INPUT_CANNOT_FEED_SIZE_SELECTED = 813
    OUTPUT_MEDIA_TRAY_MISSING = 901
    OUTPUT_MEDIA_TRAY_ALMOST_FULL = 902
    OUTPUT_MEDIA_TRAY_FULL = 903
    MARKER_FUSER_UNDER_TEMPERATURE = 1001
    MARKER_FUSER_OVER_TEMPERATURE = 1002
    MARKER_TONER_EMPTY = 1101
    MARKER_INK_EMPTY = 1102
    MARKER_TONER_ALMOST_EMPTY = 1104
    MARKER_INK_ALMOST_EMPTY = 1105
    MARKER_WASTE_TONER_RECEPTACLE_ALMOST_FULL = 1107
    MARKER_WASTE_TONER_RECEPTACLE_FULL = 1109
    MARKER_OPC_LIFE_ALMOST_OVER = 1111
    MARKER_OPC_LIFE_OVER = 1112
    MARKER_TONER_CARTRIDGE_MISSING = 1115
    MEDIA_PATH_MEDIA_TRAY_MISSING = 1301
    MEDIA_PATH_CANNOT_DUPLEX_MEDIA_SELECTED = 1304
    ALERT_REMOVAL_OF_BINARY_CHANGE_ENTRY = 1801


class SupplyType(enum.Enum):
    """PrtMarkerSuppliesTypeTC (IANA-PRINTER-MIB)."""

    OTHER = 1
    UNKNOWN = 2
    TONER = 3
    WASTE_TONER = 4
    INK = 5
    INK_CARTRIDGE = 6
    INK_RIBBON = 7
    WASTE_INK = 8
    OPC = 9
    DEVELOPER = 10
    FUSER_OIL = 11
    SOLID_WAX = 12
    RIBBON_WAX = 13
    WASTE_WAX = 14
    FUSER = 15
    CORONA_WIRE = 16
    FUSER_OIL_WICK = 17
    CLEANER_UNIT = 18
    FUSER_CLEANING_PAD = 19
    TRANSFER_UNIT = 20
    TONER_CARTRIDGE = 21
    FUSER_OILER = 22
    WATER = 23
    WASTE_WATER = 24
    GLUE_WATER_ADDITIVE = 25
    WASTE_PAPER = 26
    BINDING_SUPPLY = 27
    BANDING_SUPPLY = 28
    STITCHING_WIRE = 29
    SHRINK_WRAP = 30
    PAPER_WRAP = 31
    STAPLES = 32
    INSERTS = 33
    COVERS = 34


class CounterUnit(enum.Enum):
    """PrtMarkerCounterUnitTC (RFC 3805): what prtMarkerLifeCount counts."""

    TEN_THOUSANDTHS_OF_INCHES = 3
    MICROMETERS = 4
    CHARACTERS = 5
    LINES = 6
    IMPRESSIONS = 7
    SHEETS = 8
    DOT_ROW = 9
    HOURS = 11
    FEET = 16
    METERS = 17


class SpecialLevel(enum.Enum):
    """The negative values a capacity or level may take (RFC 3805)."""

    OTHER = -1
    UNKNOWN = -2
    SOME_REMAINING = -3  # "at least one" sheet in a tray, "some" of a supply left


Level = int | SpecialLevel


# ---- the status -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrinterAlert:
    index: int
    severity: AlertSeverity | int | None
    group: AlertGroup | int | None
    group_index: int | None
    code: AlertCode | int | None
    description: str | None


@dataclass(frozen=True, slots=True)
class MarkerSupply:
    index: int
    kind: SupplyType | int | None
    description: str | None
    max_capacity: Level | None
    level: Level | None

    @property
    def percent(self) -> float | None:
        """Level as a percentage, only when both level and capacity are real numbers (RFC 3805)."""
        if isinstance(self.level, int) and isinstance(self.max_capacity, int) and self.max_capacity > 0:
            return 100.0 * self.level / self.max_capacity
        return None

    @property
    def is_empty(self) -> bool:
        return self.level == 0


@dataclass(frozen=True, slots=True)
class InputTray:
    index: int
    name: str | None
    media_name: str | None
    max_capacity: Level | None
    current_level: Level | None

    @property
    def is_empty(self) -> bool:
        return self.current_level == 0


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """One poll's answer. None means "unknown" for that part; `problems` says why."""

    device: str
    reachable: bool
    uptime: int | None = None  # sysUpTime, hundredths of a second; going back means the printer restarted
    device_state: DeviceState | None = None
    printer_state: PrinterState | None = None
    errors: frozenset[PrinterError] | None = None
    error_octets: bytes | None = None
    printer_name: str | None = None
    page_count: int | None = None
    page_count_unit: CounterUnit | int | None = None
    trays: tuple[InputTray, ...] | None = None
    supplies: tuple[MarkerSupply, ...] | None = None
    alerts: tuple[PrinterAlert, ...] | None = None
    console: tuple[str, ...] | None = None
    problems: tuple[str, ...] = ()
    error: DeviceError | None = field(default=None, compare=False)

    def restarted_since(self, earlier: PrinterStatus) -> bool | None:
        """True when sysUpTime went back (the printer restarted and its counters may have reset); None if unknown."""
        if self.uptime is None or earlier.uptime is None:
            return None
        # TimeTicks wrap after 2**32 hundredths (497 days): a small step back is a restart, a huge one a wrap
        return self.uptime < earlier.uptime and earlier.uptime - self.uptime < 2**31

    def pages_since(self, earlier: PrinterStatus) -> int | None:
        """The page counter's advance since `earlier`, across a Counter32 wrap; None when it cannot be known
        (either counter unknown, the unit changed, or the printer restarted in between)."""
        if self.page_count is None or earlier.page_count is None or self.page_count_unit != earlier.page_count_unit:
            return None
        if self.restarted_since(earlier) is not False:
            return None
        return (self.page_count - earlier.page_count) % 2**32

    def summary(self) -> str:
        """One line for an operator: state, error bits, alerts, page counter; '?' for what is unknown."""
        if not self.reachable:
            reason = self.problems[0] if self.problems else "no answer"
            return f"{self.device}: unreachable ({reason.removeprefix(self.device + ': ')})"

        def name(value) -> str:
            if value is None:
                return "?"
            return value.name.lower() if isinstance(value, enum.Enum) else str(value)

        parts = [f"{name(self.device_state)}/{name(self.printer_state)}"]
        if self.errors is None:
            parts.append("errors ?")
        elif self.errors:
            parts.append("errors " + ",".join(sorted(e.name.lower() for e in self.errors)))
        if self.alerts:
            parts.append("alerts " + "; ".join(
                f"{name(a.severity)} {name(a.code)}" + (f" ({a.description})" if a.description else "")
                for a in self.alerts
            ))
        if self.page_count is not None:
            parts.append(f"{self.page_count} {name(self.page_count_unit)}")
        if self.supplies:
            parts.append("supplies " + ", ".join(
                f"{s.description or name(s.kind)} "
                + (f"{s.percent:.0f}%" if s.percent is not None else name(s.level))
                for s in self.supplies
            ))
        return f"{self.printer_name or self.device}: " + ", ".join(parts)


# ---- OIDs -------------------------------------------------------------------------------------

Oid = tuple[int, ...]

_SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)
_HR_DEVICE_STATUS: Oid = (1, 3, 6, 1, 2, 1, 25, 3, 2, 1, 5)
_HR_PRINTER_STATUS: Oid = (1, 3, 6, 1, 2, 1, 25, 3, 5, 1, 1)
_HR_PRINTER_ERRORS: Oid = (1, 3, 6, 1, 2, 1, 25, 3, 5, 1, 2)
_PRT_GENERAL_PRINTER_NAME: Oid = (1, 3, 6, 1, 2, 1, 43, 5, 1, 1, 16)
_PRT_MARKER_COUNTER_UNIT: Oid = (1, 3, 6, 1, 2, 1, 43, 10, 2, 1, 3)
_PRT_MARKER_LIFE_COUNT: Oid = (1, 3, 6, 1, 2, 1, 43, 10, 2, 1, 4)
_PRT_INPUT: Oid = (1, 3, 6, 1, 2, 1, 43, 8, 2, 1)
_PRT_SUPPLIES: Oid = (1, 3, 6, 1, 2, 1, 43, 11, 1, 1)
_PRT_CONSOLE_TEXT: Oid = (1, 3, 6, 1, 2, 1, 43, 16, 5, 1, 2)
_PRT_ALERT: Oid = (1, 3, 6, 1, 2, 1, 43, 18, 1, 1)

# table name -> {column name: column OID}
_TABLES: dict[str, dict[str, Oid]] = {
    "trays": {
        "max_capacity": _PRT_INPUT + (9,),
        "current_level": _PRT_INPUT + (10,),
        "media_name": _PRT_INPUT + (12,),
        "name": _PRT_INPUT + (13,),
    },
    "supplies": {
        "kind": _PRT_SUPPLIES + (5,),
        "description": _PRT_SUPPLIES + (6,),
        "max_capacity": _PRT_SUPPLIES + (8,),
        "level": _PRT_SUPPLIES + (9,),
    },
    "alerts": {
        "severity": _PRT_ALERT + (2,),
        "group": _PRT_ALERT + (4,),
        "group_index": _PRT_ALERT + (5,),
        "code": _PRT_ALERT + (7,),
        "description": _PRT_ALERT + (8,),
    },
    "console": {"text": _PRT_CONSOLE_TEXT},
}

# GETBULK max-repetitions: the first poll asks for 8 rows per column; later polls ask for one more than
# the longest table had, since every repetition of a finished column still costs a decoded var-bind.
_FIRST_REPETITIONS = 8
_MAX_REPETITIONS = 24
_MAX_FOLLOW_UPS = 32  # bulk requests after the first, per poll: a table of ~250 rows, then we stop


def _instance(column: Oid, *index: int) -> Oid:
    return column + index


def _before(oid: Oid) -> Oid:
    """An OID whose GETNEXT is `oid` on any sane agent: the instance with its last arc one less."""
    if oid[-1] == 0:
        return oid[:-1]
    return oid[:-1] + (oid[-1] - 1,)


# ---- credentials and addresses ----------------------------------------------------------------

_AUTH_PROTOCOLS = {
    "none": usmNoAuthProtocol,
    "md5": usmHMACMD5AuthProtocol,
    "sha": usmHMACSHAAuthProtocol,
    "sha256": usmHMAC192SHA256AuthProtocol,
    "sha512": usmHMAC384SHA512AuthProtocol,
}
_PRIV_PROTOCOLS = {
    "none": usmNoPrivProtocol,
    "des": usmDESPrivProtocol,
    "aes": usmAesCfb128Protocol,
    "aes256": usmAesCfb256Protocol,
}


@dataclass(frozen=True, slots=True)
class SnmpV3Credentials:
    """A USM user. Keys are passphrases; they never appear in a repr or a message."""

    user: str
    auth_key: str | None = field(default=None, repr=False)
    priv_key: str | None = field(default=None, repr=False)
    auth_protocol: str = "sha"
    priv_protocol: str = "aes"

    def __post_init__(self) -> None:
        if self.auth_protocol not in _AUTH_PROTOCOLS:
            raise ValueError(f"unknown SNMPv3 auth protocol {self.auth_protocol!r}; one of {sorted(_AUTH_PROTOCOLS)}")
        if self.priv_protocol not in _PRIV_PROTOCOLS:
            raise ValueError(f"unknown SNMPv3 priv protocol {self.priv_protocol!r}; one of {sorted(_PRIV_PROTOCOLS)}")
        if self.priv_key and not self.auth_key:
            raise ValueError(f"SNMPv3 user {self.user!r}: privacy needs authentication too")

    def _usm(self) -> UsmUserData:
        return UsmUserData(
            self.user,
            authKey=self.auth_key,
            privKey=self.priv_key,
            authProtocol=_AUTH_PROTOCOLS[self.auth_protocol] if self.auth_key else usmNoAuthProtocol,
            privProtocol=_PRIV_PROTOCOLS[self.priv_protocol] if self.priv_key else usmNoPrivProtocol,
        )


@dataclass(frozen=True, slots=True)
class _Address:
    host: str
    port: int
    community: str = field(repr=False)
    version: str

    @property
    def name(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"snmp://{host}:{self.port}"


def _parse_url(url: str) -> _Address:
    parts = urlsplit(url)
    if parts.scheme != "snmp" or not parts.hostname:
        # the URL may hold a community: name the part that is wrong, not the whole URL
        raise ValueError(f"not an snmp://host[:port] URL (scheme {parts.scheme!r}, host {parts.hostname!r})")
    query = parse_qs(parts.query)
    community = query.get("community", ["public"])[-1]
    version = query.get("version", ["2c"])[-1]
    if version not in ("1", "2c", "3"):
        raise ValueError(f"snmp://{parts.hostname}: version must be 1, 2c or 3, not {version!r}")
    try:
        port = parts.port or 161
    except ValueError:
        raise ValueError(f"snmp://{parts.hostname}: bad port") from None
    return _Address(parts.hostname, port, community, version)


# ---- the wire edge ----------------------------------------------------------------------------

_AUTH_INDICATIONS = (
    errind.UnknownUserName,
    errind.WrongDigest,
    errind.DecryptionError,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.UnsupportedSecurityLevel,
    errind.UnknownSecurityName,
    errind.UnsupportedAuthProtocol,
    errind.UnsupportedPrivProtocol,
    errind.NoEncryption,
    errind.EncryptionError,
)
_WIRE_INDICATIONS = (
    errind.DeserializationError,
    errind.SerializationError,
    errind.OidNotIncreasing,
    errind.EmptyResponse,
    errind.DataMismatch,
    errind.InvalidMsg,
)
_EXCEPTIONS = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)


def _oid_text(oid: Oid) -> str:
    return ".".join(map(str, oid))


def _python_value(value) -> object:
    """A pysnmp value as int, bytes, an OID tuple, or None for the SNMPv2 exception values."""
    if isinstance(value, _EXCEPTIONS):
        return None
    if hasattr(value, "asOctets"):
        return value.asOctets()
    if hasattr(value, "asTuple"):
        return tuple(value.asTuple())
    return int(value)


class SnmpPrinter:
    """One printer's SNMP agent. Made by `SnmpManager.open_printer` or `open_snmp_printer`."""

    def __init__(
        self,
        manager: SnmpManager,
        address: _Address,
        target_name: str,
        *,
        timeout: float,
        retries: int,
        device_index: int,
        name: str | None,
        owns_manager: bool,
    ) -> None:
        self._manager = manager
        self._address = address
        self._target_name = target_name
        self._timeout = timeout
        self._retries = retries
        self._owns_manager = owns_manager
        self._repetitions = _FIRST_REPETITIONS
        self._repetition_cap = _MAX_REPETITIONS
        self.device_index = device_index
        self.name = name or address.name
        d = device_index
        self._scalars = {
            "uptime": _SYS_UPTIME,
            "device_state": _instance(_HR_DEVICE_STATUS, d),
            "printer_state": _instance(_HR_PRINTER_STATUS, d),
            "errors": _instance(_HR_PRINTER_ERRORS, d),
            "printer_name": _instance(_PRT_GENERAL_PRINTER_NAME, d),
            "page_count_unit": _instance(_PRT_MARKER_COUNTER_UNIT, d, 1),
            "page_count": _instance(_PRT_MARKER_LIFE_COUNT, d, 1),
        }
        # (table, column, prefix of this device's rows, OID to continue from)
        self._columns = [
            (table, col, oid + (d,), oid + (d,)) for table, cols in _TABLES.items() for col, oid in cols.items()
        ]
        self._columns_of = {t: [c for c in self._columns if c[0] == t] for t in _TABLES}
        # built once: constructing pyasn1 OIDs is a noticeable part of a poll's CPU
        self._scalar_var_binds = [(ObjectName(_before(oid)), _NULL) for oid in self._scalars.values()]
        self._request_var_binds: dict[frozenset[str], list] = {}
        # rows per table at the last poll; unknown at first, so every table is read whole
        self._table_rows: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"SnmpPrinter({self.name!r})"

    async def __aenter__(self) -> SnmpPrinter:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_manager:
            await self._manager.aclose()

    # -- requests, with pysnmp's errors mapped to ours --

    async def get(self, *oids: Oid | str) -> dict[Oid, object]:
        """GET several objects in one request: {oid: int | bytes | oid tuple | None (no such object)}."""
        names = [tuple(int(p) for p in o.strip(".").split(".")) if isinstance(o, str) else tuple(o) for o in oids]
        var_binds = await self._request(None, 0, [(ObjectName(n), _NULL) for n in names])
        return {tuple(name): _python_value(value) for name, value in var_binds}

    async def _bulk(self, non_repeaters: int, var_binds, repetitions: int):
        while True:
            try:
                return await self._request(non_repeaters, repetitions, var_binds)
            except _TooBig:
                if repetitions == 1:
                    raise WireProtocolError("the agent finds even one row too big to send", device=self.name)
                repetitions //= 2
                self._repetition_cap = repetitions  # remembered, so later polls do not ask too much again

    async def _request(self, non_repeaters: int | None, repetitions: int, var_binds):
        """GET (non_repeaters None) or GETBULK; pysnmp's command generators straight, without hlapi's MIB lookups."""
        engine = self._manager._engine
        if engine is None:
            raise DeviceError("SNMP manager is closed", device=self.name)
        future = asyncio.get_running_loop().create_future()

        def answered(_engine, _handle, indication, status, index, var_binds, _ctx):
            if not future.done():
                future.set_result((indication, status, index, var_binds))

        # pysnmp times out and retries itself; this bound only guards against a lost callback
        bound = self._timeout * (self._retries + 1) + 1.0
        try:
            if non_repeaters is None:
                _GET.send_varbinds(engine, self._target_name, None, b"", var_binds, answered)
            else:
                _BULK.send_varbinds(engine, self._target_name, None, b"", non_repeaters, repetitions, var_binds, answered)
            async with asyncio.timeout(bound):
                indication, status, index, var_binds = await future
        except TimeoutError:
            raise DeviceTimeoutError(f"no SNMP answer within {bound:.1f} s", device=self.name) from None
        except PySnmpError as exc:
            raise DeviceError(f"SNMP request failed: {exc}", device=self.name) from None
        except OSError as exc:
            raise DeviceError(f"SNMP transport failed: {exc.strerror or exc}", device=self.name) from None
        if indication:
            raise self._map_indication(indication)
        if status:
            if int(status) == 1:  # tooBig
                raise _TooBig()
            where = ""
            if index and 0 < int(index) <= len(var_binds):
                where = f" at {_oid_text(tuple(var_binds[int(index) - 1][0]))}"
            raise DeviceError(f"agent answered {status.prettyPrint()}{where}", device=self.name)
        return var_binds

    def _map_indication(self, indication) -> DeviceError:
        if isinstance(indication, errind.RequestTimedOut):
            return DeviceTimeoutError(
                f"no SNMP answer in {self._timeout:g} s x {self._retries + 1} tries", device=self.name
            )
        if isinstance(indication, _AUTH_INDICATIONS):
            return SnmpAuthError(f"credentials refused: {indication}", device=self.name)
        if isinstance(indication, _WIRE_INDICATIONS):
            return WireProtocolError(f"bad SNMP answer: {indication}", device=self.name)
        return DeviceError(f"SNMP error: {indication}", device=self.name)

    # -- the status poll --

    def poll_request(self) -> tuple[int, int, list[str]]:
        """The GETBULK the next poll sends first: (non-repeaters, max-repetitions, OIDs). For diagnostics."""
        n, var_binds, _, _ = self._next_request()
        return n, self._repetitions, [str(name) for name, _ in var_binds]

    def _next_request(self):
        # Tables that were empty last time (alerts, mostly) are probed with one GETNEXT on their first
        # column instead of repeating every column: a repetition of a finished column still costs a
        # var-bind to decode, and decoding is most of a poll's CPU.
        empty = frozenset(t for t, rows in self._table_rows.items() if rows == 0)
        probes = [self._columns_of[t][0] for t in _TABLES if t in empty]
        repeated = [c for c in self._columns if c[0] not in empty]
        var_binds = self._request_var_binds.get(empty)
        if var_binds is None:
            var_binds = [
                *self._scalar_var_binds,
                *((ObjectName(c[2]), _NULL) for c in probes),
                *((ObjectName(c[2]), _NULL) for c in repeated),
            ]
            self._request_var_binds[empty] = var_binds
        return len(self._scalars) + len(probes), var_binds, probes, repeated

    async def poll(self) -> PrinterStatus:
        """The printer's status now. A dead or refusing agent gives an all-unknown status, not an exception."""
        if self._address.version == "1":
            exc = DeviceError("SNMPv1 has no GETBULK: poll needs version=2c or 3", device=self.name)
            return PrinterStatus(device=self.name, reachable=False, problems=(str(exc),), error=exc)
        n, var_binds_out, probes, repeated = self._next_request()
        scalars = self._scalars
        try:
            var_binds = await self._bulk(n, var_binds_out, self._repetitions)
        except DeviceError as exc:
            logger.debug("%s: poll failed: %s", self.name, exc)
            return PrinterStatus(device=self.name, reachable=False, problems=(str(exc),), error=exc)

        problems: list[str] = []
        values: dict[str, object] = {}
        for (part, oid), (name, value) in zip(scalars.items(), var_binds[: len(scalars)]):
            if tuple(name) == oid and not isinstance(value, _EXCEPTIONS):
                values[part] = _python_value(value)
            else:
                problems.append(f"{part}: no {_oid_text(oid)}")

        rows: dict[str, dict[Oid, dict[str, object]]] = {table: {} for table in _TABLES}
        open_columns = self._collect(repeated, var_binds[n:], rows)
        for probe, (name, value) in zip(probes, var_binds[len(scalars) : n]):
            prefix = probe[2]
            if not isinstance(value, rfc1905.EndOfMibView) and tuple(name)[: len(prefix)] == prefix:
                open_columns += self._columns_of[probe[0]]  # it has rows now: read it whole
        error: DeviceError | None = None
        follow_ups = 0
        while open_columns and follow_ups < _MAX_FOLLOW_UPS:
            follow_ups += 1
            try:
                more = await self._bulk(0, [(ObjectName(c[3]), _NULL) for c in open_columns], self._repetitions)
            except DeviceError as exc:
                error = exc
                for table in {c[0] for c in open_columns}:
                    rows[table] = None  # type: ignore[assignment]  # part of the table is missing: unknown
                    problems.append(f"{table}: {exc}")
                break
            open_columns = self._collect(open_columns, more, rows)
        else:
            if open_columns:
                for table in {c[0] for c in open_columns}:
                    rows[table] = None  # type: ignore[assignment]
                    problems.append(f"{table}: more than {_MAX_FOLLOW_UPS} requests long; not read")

        self._table_rows = {table: len(found) for table, found in rows.items() if found is not None}
        longest = max(self._table_rows.values(), default=0)
        self._repetitions = max(1, min(_MAX_REPETITIONS, self._repetition_cap, max(2, longest + 1)))

        # An agent without the Printer MIB (a plain host's snmpd) has empty tables: unknown, not "none".
        has_printer_mib = "printer_name" in values or "page_count" in values
        tables = {
            table: (None if found is None or (not has_printer_mib and not found) else found)
            for table, found in rows.items()
        }
        if not has_printer_mib:
            problems.append("no Printer MIB: trays, supplies, alerts and console unknown")
        return self._status(values, tables, problems, error)

    @staticmethod
    def _collect(columns, var_binds, rows):
        """File GETBULK rows under their tables; return the columns still open, each with its last OID.

        `columns` are (table, column, prefix, last OID asked for); repeaters come back in groups of
        len(columns), one per column, until the agent's repetitions run out.
        """
        r = len(columns)
        if not var_binds or not r:
            return []
        last = [c[3] for c in columns]
        finished = [False] * r
        for i, (name, value) in enumerate(var_binds):
            c = i % r
            if finished[c]:
                continue
            table, col, prefix, _ = columns[c]
            oid = tuple(name)
            if isinstance(value, rfc1905.EndOfMibView) or oid[: len(prefix)] != prefix or oid <= last[c]:
                finished[c] = True
                continue
            last[c] = oid
            found = rows[table]
            if found is not None:
                found.setdefault(oid[len(prefix):], {})[col] = _python_value(value)
        return [(*columns[c][:3], last[c]) for c in range(r) if not finished[c]]

    def _status(self, values, tables, problems, error) -> PrinterStatus:
        errors_raw = values.get("errors")
        errors = None
        if isinstance(errors_raw, bytes):
            errors = frozenset(_decode_error_bits(errors_raw))
        return PrinterStatus(
            device=self.name,
            reachable=True,
            uptime=values.get("uptime"),  # type: ignore[arg-type]
            device_state=_enum(DeviceState, values.get("device_state")),
            printer_state=_enum(PrinterState, values.get("printer_state")),
            errors=errors,
            error_octets=errors_raw if isinstance(errors_raw, bytes) else None,
            printer_name=_text(values.get("printer_name")),
            page_count=values.get("page_count"),  # type: ignore[arg-type]
            page_count_unit=_enum_or_int(CounterUnit, values.get("page_count_unit")),
            trays=None if tables["trays"] is None else tuple(
                InputTray(
                    index=index[-1],
                    name=_text(row.get("name")),
                    media_name=_text(row.get("media_name")),
                    max_capacity=_level(row.get("max_capacity")),
                    current_level=_level(row.get("current_level")),
                )
                for index, row in sorted(tables["trays"].items())
            ),
            supplies=None if tables["supplies"] is None else tuple(
                MarkerSupply(
                    index=index[-1],
                    kind=_enum_or_int(SupplyType, row.get("kind")),
                    description=_text(row.get("description")),
                    max_capacity=_level(row.get("max_capacity")),
                    level=_level(row.get("level")),
                )
                for index, row in sorted(tables["supplies"].items())
            ),
            alerts=None if tables["alerts"] is None else tuple(
                PrinterAlert(
                    index=index[-1],
                    severity=_enum_or_int(AlertSeverity, row.get("severity")),
                    group=_enum_or_int(AlertGroup, row.get("group")),
                    group_index=row.get("group_index"),  # type: ignore[arg-type]
                    code=_enum_or_int(AlertCode, row.get("code")),
                    description=_text(row.get("description")),
                )
                for index, row in sorted(tables["alerts"].items())
            ),
            console=None if tables["console"] is None else tuple(
                _text(row.get("text")) or "" for _, row in sorted(tables["console"].items())
            ),
            problems=tuple(problems),
            error=error,
        )


class _TooBig(Exception):
    pass


_NULL = Null("")
_GET = cmdgen.GetCommandGenerator()
_BULK = cmdgen.BulkCommandGeneratorSingleRun()


def _decode_error_bits(octets: bytes) -> set[PrinterError]:
    """Bit 0 is the most significant bit of the first octet; 1 or 2 octets in practice, any length read."""
    found = set()
    for n in range(8 * len(octets)):
        if octets[n // 8] & (0x80 >> (n % 8)):
            try:
                found.add(PrinterError(n))
            except ValueError:
                pass  # a bit no MIB revision names yet
    return found


def _enum(kind, value):
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def _enum_or_int(kind, value):
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        return value


def _level(value) -> Level | None:
    if value is None:
        return None
    if value >= 0:
        return value
    try:
        return SpecialLevel(value)
    except ValueError:
        return SpecialLevel.UNKNOWN


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        # Printer MIB text is in the printer's localization charset: UTF-8 on current printers, Latin-1
        # on many older ones; bytes that are not UTF-8 are read as Latin-1 rather than lost.
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return str(value)


# ---- the manager and the fleet ----------------------------------------------------------------


class SnmpManager:
    """One pysnmp engine (one UDP socket) shared by every printer opened through it."""

    def __init__(self) -> None:
        self._engine: SnmpEngine | None = SnmpEngine()
        self._v3_users: dict[str, SnmpV3Credentials] = {}

    async def __aenter__(self) -> SnmpManager:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def open_printer(
        self,
        url: str,
        *,
        credentials: SnmpV3Credentials | None = None,
        timeout: float = 1.0,
        retries: int = 1,
        device_index: int = 1,
        name: str | None = None,
    ) -> SnmpPrinter:
        """A printer at `snmp://host[:port]?community=NAME[&version=1|2c|3]` (IPv6: `snmp://[::1]:port`);
        SNMPv3 when `credentials` are given."""
        return await self._open(url, credentials, timeout, retries, device_index, name, owns=False)

    async def _open(self, url, credentials, timeout, retries, device_index, name, owns) -> SnmpPrinter:
        if self._engine is None:
            raise DeviceError("SNMP manager is closed")
        address = _parse_url(url)
        if address.version == "3" and credentials is None:
            raise ValueError(f"{address.name}: version=3 needs SnmpV3Credentials")
        if credentials is not None:
            known = self._v3_users.setdefault(credentials.user, credentials)
            if known != credentials:
                # pysnmp keeps one key set per user name in an engine; a second would replace the first
                raise ValueError(
                    f"SNMPv3 user {credentials.user!r} is already open with other keys on this SnmpManager; "
                    "use another SnmpManager"
                )
            auth = credentials._usm()
        else:
            auth = CommunityData(address.community, mpModel=0 if address.version == "1" else 1)
        device = name or address.name
        try:
            kind = Udp6TransportTarget if ":" in address.host else UdpTransportTarget
            target = await kind.create((address.host, address.port), timeout=timeout, retries=retries)
            target_name, _ = LCD.configure(self._engine, auth, target, b"")
        except PySnmpError as exc:
            raise DeviceError(f"cannot set up SNMP target: {exc}", device=device) from None
        return SnmpPrinter(
            self, address, target_name, timeout=timeout, retries=retries,
            device_index=device_index, name=name, owns_manager=owns,
        )

    async def aclose(self) -> None:
        engine, self._engine = self._engine, None
        if engine is None:
            return
        engine.close_dispatcher()
        # asyncio closes a datagram socket on the loop's next turn
        await asyncio.sleep(0)
        await asyncio.sleep(0)


async def open_snmp_printer(
    url: str,
    *,
    credentials: SnmpV3Credentials | None = None,
    timeout: float = 1.0,
    retries: int = 1,
    device_index: int = 1,
    name: str | None = None,
) -> SnmpPrinter:
    """A printer with an engine of its own, released by its `aclose()`. For a fleet, share an `SnmpManager`."""
    manager = SnmpManager()
    try:
        return await manager._open(url, credentials, timeout, retries, device_index, name, owns=True)
    except BaseException:
        await manager.aclose()
        raise


async def poll_fleet(printers: Iterable[SnmpPrinter], concurrency: int = 16) -> list[PrinterStatus]:
    """Poll every printer, at most `concurrency` at a time; statuses in the printers' order.

    An unbounded gather over hundreds of printers is slower than this on pysnmp (measured): the engine's
    pending-request bookkeeping grows with the number in flight.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    printers = list(printers)
    results: list[PrinterStatus | None] = [None] * len(printers)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(printers):
            i = next_index
            next_index += 1
            results[i] = await printers[i].poll()

    async with asyncio.TaskGroup() as tg:
        for n in range(min(concurrency, len(printers))):
            tg.create_task(worker(), name=f"snmp.poll_fleet[{n}]")
    return results  # type: ignore[return-value]


async def poll_urls(
    urls: Iterable[str],
    *,
    credentials: SnmpV3Credentials | None = None,
    timeout: float = 1.0,
    retries: int = 1,
    concurrency: int = 16,
) -> list[PrinterStatus]:
    """Poll each `snmp://` URL once with a throw-away SnmpManager: for a CLI, a demo or a one-off check.

    A watcher that polls every few seconds keeps one SnmpManager and its SnmpPrinters instead: a printer
    remembers its tables' sizes and asks for just that much.
    """
    async with SnmpManager() as snmp:
        printers = [
            await snmp.open_printer(url, credentials=credentials, timeout=timeout, retries=retries) for url in urls
        ]
        return await poll_fleet(printers, concurrency=concurrency)
