"""A simulated printer's SNMP agent: the Printer MIB (RFC 3805) and Host Resources MIB (RFC 2790) on loopback.

The agent is pysnmp 7's engine and command responders with our own MIB instrumentation underneath: on
every GET, GETNEXT or GETBULK it asks the state callable for the printer's current `PrinterMibState` and
answers from it, so values and table sizes (alerts come and go) follow the printer live. The callable
may return None to make the agent stop answering (a printer gone offline).

The numbers below are written out from the MIB texts (RFC 3805, IANA-PRINTER-MIB, RFC 2790), not shared
with the driver: Net-SNMP's snmpwalk/snmpget are the peer that checks this side.
"""

from __future__ import annotations

import asyncio
import bisect
import enum
import logging
import socket
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.error import PySnmpError
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error
from pysnmp.smi.instrum import AbstractMibInstrumController

logger = logging.getLogger(__name__)

__all__ = [
    "Alert",
    "DetectedError",
    "HrDeviceStatus",
    "HrPrinterStatus",
    "InputTray",
    "PrinterMibState",
    "SimSnmpAgent",
    "SnmpV3User",
    "Supply",
]

# hrDeviceIndex of the one printer device this agent describes.
DEVICE_INDEX = 1


class HrDeviceStatus(enum.IntEnum):
    """hrDeviceStatus, RFC 2790."""

    UNKNOWN = 1
    RUNNING = 2
    WARNING = 3
    TESTING = 4
    DOWN = 5


class HrPrinterStatus(enum.IntEnum):
    """hrPrinterStatus, RFC 2790."""

    OTHER = 1
    UNKNOWN = 2
    IDLE = 3
    PRINTING = 4
    WARMUP = 5


class DetectedError(enum.IntFlag):
    """hrPrinterDetectedErrorState bits, numbered as in RFC 2790/3805 (bit n here is `1 << n`).

    On the wire bit 0 is the most significant bit of the first octet; `_error_octets` does that.
    Bits 8 and up need the 2-octet form.
    """

    LOW_PAPER = 1 << 0
    NO_PAPER = 1 << 1
    LOW_TONER = 1 << 2
    NO_TONER = 1 << 3
    DOOR_OPEN = 1 << 4
    JAMMED = 1 << 5
    OFFLINE = 1 << 6
    SERVICE_REQUESTED = 1 << 7
    INPUT_TRAY_MISSING = 1 << 8
    OUTPUT_TRAY_MISSING = 1 << 9
    MARKER_SUPPLY_MISSING = 1 << 10
    OUTPUT_NEAR_FULL = 1 << 11
    OUTPUT_FULL = 1 << 12
    INPUT_TRAY_EMPTY = 1 << 13
    OVERDUE_PREVENT_MAINT = 1 << 14


@dataclass(frozen=True, slots=True)
class InputTray:
    """A row of prtInputTable. Capacity and level: sheets, or -1 other, -2 unknown, -3 at least one."""

    name: str
    media_name: str
    max_capacity: int
    current_level: int
    # prtInputType: 3 sheetFeedAutoRemovableTray, 4 sheetFeedAutoNonRemovableTray, 5 sheetFeedManual
    input_type: int = 3


@dataclass(frozen=True, slots=True)
class Supply:
    """A row of prtMarkerSuppliesTable. Level: -1 other, -2 unknown, -3 some remaining."""

    supply_type: int  # PrtMarkerSuppliesTypeTC: 3 toner, 4 wasteToner, 9 opc, 15 fuser, 21 tonerCartridge...
    description: str
    max_capacity: int
    level: int
    supply_class: int = 3  # 3 supplyThatIsConsumed, 4 receptacleThatIsFilled
    unit: int = 19  # PrtMarkerSuppliesSupplyUnitTC: 19 percent, 7 impressions, 13 tenthsOfGrams


@dataclass(frozen=True, slots=True)
class Alert:
    """A row of prtAlertTable. `index` is prtAlertIndex; None numbers the rows 1, 2, ... in order."""

    severity: int  # PrtAlertSeverityLevelTC: 1 other, 3 critical, 4 warning, 5 warningBinaryChangeEvent
    group: int  # PrtAlertGroupTC: 6 cover, 8 input, 9 output, 10 marker, 11 markerSupplies, 13 mediaPath
    code: int  # PrtAlertCodeTC: 3 coverOpen, 8 jam, 501 doorOpen, 808 inputMediaSupplyEmpty, 1101 ...
    description: str
    group_index: int = -1
    location: int = -2
    training_level: int = 2  # PrtAlertTrainingLevelTC: 2 unknown, 3 untrained, 4 trained, 5 fieldService
    time: int = 0  # sysUpTime (hundredths of a second) when the alert was raised
    index: int | None = None


@dataclass(frozen=True, slots=True)
class SnmpV3User:
    """A USM user the agent accepts. Protocols: auth "md5"/"sha"/"sha256"/"sha512", priv "des"/"aes"/"aes256"."""

    name: str
    auth_key: str | None = None
    priv_key: str | None = None
    auth_protocol: str = "sha"
    priv_protocol: str = "aes"

    def __repr__(self) -> str:
        return f"SnmpV3User(name={self.name!r}, auth={self.auth_protocol if self.auth_key else None}, priv={self.priv_protocol if self.priv_key else None})"


@dataclass(frozen=True, slots=True)
class PrinterMibState:
    """Everything the agent answers, at one instant.

    Uptime: `uptime` in hundredths of a second if given, else computed from `started_at` (a
    `time.monotonic()` value), else 0.
    """

    printer_name: str = "pmc-sim"
    serial_number: str = "SIM0001"
    sys_descr: str = "pmc simulated production printer"
    device_descr: str = "pmc simulated production printer"
    uptime: int | None = None
    started_at: float | None = None
    device_status: int = HrDeviceStatus.RUNNING
    printer_status: int = HrPrinterStatus.IDLE
    detected_errors: int = 0
    error_octets: int = 2
    trays: tuple[InputTray, ...] = ()
    counter_unit: int = 7  # PrtMarkerCounterUnitTC: 7 impressions, 8 sheets
    life_count: int = 0
    supplies: tuple[Supply, ...] = ()
    alerts: tuple[Alert, ...] = ()
    console_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.error_octets not in (1, 2):
            raise ValueError(f"error_octets must be 1 or 2, not {self.error_octets}")
        if self.detected_errors < 0 or self.detected_errors >> (8 * self.error_octets):
            raise ValueError(
                f"detected_errors {self.detected_errors:#x} does not fit in {self.error_octets} octet(s)"
            )
        indexes = [a.index if a.index is not None else n for n, a in enumerate(self.alerts, start=1)]
        if len(set(indexes)) != len(indexes) or min(indexes, default=1) < 1:
            raise ValueError(f"alert indexes must be distinct and >= 1, not {indexes}")

    def uptime_hundredths(self) -> int:
        if self.uptime is not None:
            return self.uptime
        if self.started_at is not None:
            return max(0, int((time.monotonic() - self.started_at) * 100))
        return 0


def _error_octets(bits: int, length: int) -> bytes:
    out = bytearray(length)
    for n in range(8 * length):
        if bits & (1 << n):
            out[n // 8] |= 0x80 >> (n % 8)
    return bytes(out)


# OID prefixes, from the MIB texts.
_SYSTEM = (1, 3, 6, 1, 2, 1, 1)
_HR_DEVICE_ENTRY = (1, 3, 6, 1, 2, 1, 25, 3, 2, 1)
_HR_DEVICE_PRINTER = (1, 3, 6, 1, 2, 1, 25, 3, 1, 5)  # hrDeviceTypes.hrDevicePrinter
_HR_PRINTER_ENTRY = (1, 3, 6, 1, 2, 1, 25, 3, 5, 1)
_PRT_GENERAL_ENTRY = (1, 3, 6, 1, 2, 1, 43, 5, 1, 1)
_PRT_INPUT_ENTRY = (1, 3, 6, 1, 2, 1, 43, 8, 2, 1)
_PRT_MARKER_ENTRY = (1, 3, 6, 1, 2, 1, 43, 10, 2, 1)
_PRT_SUPPLIES_ENTRY = (1, 3, 6, 1, 2, 1, 43, 11, 1, 1)
_PRT_CONSOLE_DISPLAY_ENTRY = (1, 3, 6, 1, 2, 1, 43, 16, 5, 1)
_PRT_ALERT_ENTRY = (1, 3, 6, 1, 2, 1, 43, 18, 1, 1)
_SYS_OBJECT_ID = (1, 3, 6, 1, 4, 1, 99999, 1)  # an unregistered enterprise arc: this is a simulator

# The objects (scalars and columns) this agent implements: a GET of a missing instance of one of them
# is noSuchInstance (an empty alert table), of anything else noSuchObject.
_OBJECTS = frozenset(
    [_SYSTEM + (c,) for c in (1, 2, 3, 5)]
    + [_HR_DEVICE_ENTRY + (c,) for c in range(1, 7)]
    + [_HR_PRINTER_ENTRY + (c,) for c in (1, 2)]
    + [_PRT_GENERAL_ENTRY + (c,) for c in (16, 17, 18, 19)]
    + [_PRT_INPUT_ENTRY + (c,) for c in (2, 8, 9, 10, 12, 13)]
    + [_PRT_MARKER_ENTRY + (c,) for c in (3, 4)]
    + [_PRT_SUPPLIES_ENTRY + (c,) for c in (2, 4, 5, 6, 7, 8, 9)]
    + [_PRT_CONSOLE_DISPLAY_ENTRY + (2,)]
    + [_PRT_ALERT_ENTRY + (c,) for c in range(2, 10)]
    + [_SYS_OBJECT_ID + (1,)]
)

_INT, _STR, _COUNTER, _TICKS, _OID = range(5)
_WRAP = {
    _INT: rfc1902.Integer32,
    # text goes out as UTF-8 (pysnmp would use ISO-8859-1 for a str); error octets are bytes already
    _STR: lambda value: rfc1902.OctetString(value.encode("utf-8") if isinstance(value, str) else value),
    _COUNTER: rfc1902.Counter32,
    _TICKS: rfc1902.TimeTicks,
    _OID: rfc1902.ObjectIdentifier,
}


def _objects(state: PrinterMibState) -> list[tuple[tuple[int, ...], int, object]]:
    """(oid, kind, value) for every object the state exports, in OID order."""
    d = DEVICE_INDEX
    up = state.uptime_hundredths()
    rows: list[tuple[tuple[int, ...], int, object]] = [
        (_SYSTEM + (1, 0), _STR, state.sys_descr),
        (_SYSTEM + (2, 0), _OID, _SYS_OBJECT_ID),
        (_SYSTEM + (3, 0), _TICKS, up),
        (_SYSTEM + (5, 0), _STR, state.printer_name),
        (_HR_DEVICE_ENTRY + (1, d), _INT, d),
        (_HR_DEVICE_ENTRY + (2, d), _OID, _HR_DEVICE_PRINTER),
        (_HR_DEVICE_ENTRY + (3, d), _STR, state.device_descr),
        (_HR_DEVICE_ENTRY + (4, d), _OID, (0, 0)),
        (_HR_DEVICE_ENTRY + (5, d), _INT, int(state.device_status)),
        (_HR_DEVICE_ENTRY + (6, d), _COUNTER, 0),
        (_HR_PRINTER_ENTRY + (1, d), _INT, int(state.printer_status)),
        (_HR_PRINTER_ENTRY + (2, d), _STR, _error_octets(state.detected_errors, state.error_octets)),
        (_PRT_GENERAL_ENTRY + (16, d), _STR, state.printer_name),
        (_PRT_GENERAL_ENTRY + (17, d), _STR, state.serial_number),
        (_PRT_GENERAL_ENTRY + (18, d), _COUNTER, sum(1 for a in state.alerts if a.severity == 3)),
        (_PRT_GENERAL_ENTRY + (19, d), _COUNTER, len(state.alerts)),
        (_PRT_MARKER_ENTRY + (3, d, 1), _INT, state.counter_unit),
        (_PRT_MARKER_ENTRY + (4, d, 1), _COUNTER, state.life_count % 2**32),
    ]
    for i, tray in enumerate(state.trays, start=1):
        rows += [
            (_PRT_INPUT_ENTRY + (2, d, i), _INT, tray.input_type),
            (_PRT_INPUT_ENTRY + (8, d, i), _INT, 8),  # prtInputCapacityUnit: sheets
            (_PRT_INPUT_ENTRY + (9, d, i), _INT, tray.max_capacity),
            (_PRT_INPUT_ENTRY + (10, d, i), _INT, tray.current_level),
            (_PRT_INPUT_ENTRY + (12, d, i), _STR, tray.media_name),
            (_PRT_INPUT_ENTRY + (13, d, i), _STR, tray.name),
        ]
    for s, supply in enumerate(state.supplies, start=1):
        rows += [
            (_PRT_SUPPLIES_ENTRY + (2, d, s), _INT, 1),  # prtMarkerSuppliesMarkerIndex
            (_PRT_SUPPLIES_ENTRY + (4, d, s), _INT, supply.supply_class),
            (_PRT_SUPPLIES_ENTRY + (5, d, s), _INT, supply.supply_type),
            (_PRT_SUPPLIES_ENTRY + (6, d, s), _STR, supply.description),
            (_PRT_SUPPLIES_ENTRY + (7, d, s), _INT, supply.unit),
            (_PRT_SUPPLIES_ENTRY + (8, d, s), _INT, supply.max_capacity),
            (_PRT_SUPPLIES_ENTRY + (9, d, s), _INT, supply.level),
        ]
    for n, line in enumerate(state.console_lines, start=1):
        rows.append((_PRT_CONSOLE_DISPLAY_ENTRY + (2, d, n), _STR, line))
    for position, alert in enumerate(state.alerts, start=1):
        a = alert.index if alert.index is not None else position
        rows += [
            (_PRT_ALERT_ENTRY + (2, d, a), _INT, alert.severity),
            (_PRT_ALERT_ENTRY + (3, d, a), _INT, alert.training_level),
            (_PRT_ALERT_ENTRY + (4, d, a), _INT, alert.group),
            (_PRT_ALERT_ENTRY + (5, d, a), _INT, alert.group_index),
            (_PRT_ALERT_ENTRY + (6, d, a), _INT, alert.location),
            (_PRT_ALERT_ENTRY + (7, d, a), _INT, alert.code),
            (_PRT_ALERT_ENTRY + (8, d, a), _STR, alert.description),
            (_PRT_ALERT_ENTRY + (9, d, a), _TICKS, alert.time),
        ]
    # Something after the standard MIBs, as real printers have their vendor's arc there: a walk of the
    # Printer MIB then ends on an object outside it rather than on endOfMibView.
    rows.append((_SYS_OBJECT_ID + (1, 0), _STR, "pmc simulator"))
    rows.sort(key=lambda row: row[0])
    return rows


class _Silent(PySnmpError):
    """Raised into pysnmp's responder to drop a request unanswered (the printer is offline)."""


class _StateInstrumentation(AbstractMibInstrumController):
    """Answers reads from a fresh snapshot of the state, built once per PDU."""

    def __init__(self, state: Callable[[], PrinterMibState | None]) -> None:
        self._state = state
        self._held: tuple[list[tuple[int, ...]], list[tuple[int, object]]] | None = None
        self._holding = False
        self.requests = 0

    def hold(self) -> None:
        """From now until release(), every read sees one snapshot: one PDU, one instant of the printer."""
        self._holding = True

    def release(self) -> None:
        self._holding = False
        self._held = None

    def _snapshot(self) -> tuple[list[tuple[int, ...]], list[tuple[int, object]]]:
        if self._held is not None:
            return self._held
        state = self._state()
        if state is None:
            raise _Silent("printer offline")
        self.requests += 1
        rows = _objects(state)
        snapshot = [r[0] for r in rows], [(r[1], r[2]) for r in rows]
        if self._holding:
            self._held = snapshot
        return snapshot

    @staticmethod
    def _wrap(kind: int, value: object):
        return _WRAP[kind](value)

    @staticmethod
    def _hidden(name, val, idx: int, context: dict) -> bool:
        ac_fun = context.get("acFun")
        if ac_fun is None:
            return False
        return bool(ac_fun("read", (name, val), **dict(context, idx=idx)))

    def read_variables(self, *var_binds, **context):
        oids, values = self._snapshot()
        out = []
        for idx, (name, _) in enumerate(var_binds):
            key = tuple(name)
            i = bisect.bisect_left(oids, key)
            if i < len(oids) and oids[i] == key:
                value = self._wrap(*values[i])
                if self._hidden(name, value, idx, context):
                    value = rfc1905.noSuchObject
            elif any(key[:n] in _OBJECTS for n in range(7, len(key))):
                value = rfc1905.noSuchInstance
            else:
                value = rfc1905.noSuchObject
            out.append((rfc1902.ObjectName(key), value))
        return out

    def read_next_variables(self, *var_binds, **context):
        oids, values = self._snapshot()
        out = []
        for idx, (name, _) in enumerate(var_binds):
            i = bisect.bisect_right(oids, tuple(name))
            while i < len(oids):
                value = self._wrap(*values[i])
                if not self._hidden(rfc1902.ObjectName(oids[i]), value, idx, context):
                    out.append((rfc1902.ObjectName(oids[i]), value))
                    break
                i += 1
            else:
                out.append((rfc1902.ObjectName(tuple(name)), rfc1905.endOfMibView))
        return out

    def write_variables(self, *var_binds, **context):
        raise smi_error.NotWritableError(idx=0)


class _OneSnapshotPerPdu:
    """A GETBULK calls the instrumentation once per repetition; all of them must answer from one state."""

    def handle_management_operation(self, snmpEngine, stateReference, contextName, PDU):  # noqa: N803
        instrumentation = self.snmpContext.get_mib_instrum(contextName)
        instrumentation.hold()
        try:
            super().handle_management_operation(snmpEngine, stateReference, contextName, PDU)
        finally:
            instrumentation.release()


class _GetResponder(_OneSnapshotPerPdu, cmdrsp.GetCommandResponder):
    pass


class _NextResponder(_OneSnapshotPerPdu, cmdrsp.NextCommandResponder):
    pass


class _BulkResponder(_OneSnapshotPerPdu, cmdrsp.BulkCommandResponder):
    # pysnmp caps a GETBULK answer at 64 var-binds by default; a status poll asks for ~14 columns x 8
    # rows, which a real printer's agent answers in one datagram.
    max_varbinds = 256


_AUTH = {
    "md5": config.USM_AUTH_HMAC96_MD5,
    "sha": config.USM_AUTH_HMAC96_SHA,
    "sha256": config.USM_AUTH_HMAC192_SHA256,
    "sha512": config.USM_AUTH_HMAC384_SHA512,
}
_PRIV = {
    "des": config.USM_PRIV_CBC56_DES,
    "aes": config.USM_PRIV_CFB128_AES,
    "aes256": config.USM_PRIV_CFB256_AES,
}


class _ResponseHook:
    """pysnmp's UDP transport with a byte-level hook on every answer, to garble, truncate or drop it."""

    def __init__(self, hook: Callable[[bytes], bytes | None], **kwargs) -> None:
        super().__init__(**kwargs)
        self._hook = hook

    def send_message(self, outgoingMessage, transportAddress) -> None:  # noqa: N803 (pysnmp's names)
        data = self._hook(bytes(outgoingMessage))
        if data is not None:
            super().send_message(data, transportAddress)


class _HookedUdpTransport(_ResponseHook, udp.UdpAsyncioTransport):
    pass


class _HookedUdp6Transport(_ResponseHook, udp6.Udp6AsyncioTransport):
    pass


class SimSnmpAgent:
    """`async with SimSnmpAgent(lambda: state) as agent:` serves `agent.url` until the block ends.

    `response_hook`, when given, sees every answer's bytes and returns what to send instead (None: send
    nothing), for tests of what a poller does with a damaged datagram.
    """

    def __init__(
        self,
        state: Callable[[], PrinterMibState | None],
        community: str = "public",
        v3_users: Sequence[SnmpV3User] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        response_hook: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self._response_hook = response_hook
        self._instrumentation = _StateInstrumentation(state)
        self._community = community
        self._v3_users = tuple(v3_users)
        self._host = host
        self._port = port
        self._engine: engine.SnmpEngine | None = None
        self._responders: list[cmdrsp.CommandResponderBase] = []
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"snmp://{host}:{self.port}?community={self._community}"

    @property
    def requests_answered(self) -> int:
        return self._instrumentation.requests

    async def __aenter__(self) -> SimSnmpAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def start(self) -> None:
        ipv6 = ":" in self._host
        sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self._host, self._port))
            sock.setblocking(False)
            self.port = sock.getsockname()[1]
            eng = engine.SnmpEngine()
            if ipv6:
                kind, hooked, domain = udp6.Udp6AsyncioTransport, _HookedUdp6Transport, udp6.DOMAIN_NAME
            else:
                kind, hooked, domain = udp.UdpAsyncioTransport, _HookedUdpTransport, udp.DOMAIN_NAME
            transport = kind() if self._response_hook is None else hooked(self._response_hook)
            transport = transport.open_server_mode(sock=sock)
        except BaseException:
            sock.close()
            raise
        self._engine = eng
        try:
            config.add_transport(eng, domain, transport)
            await transport._lport  # the endpoint exists once this resolves; pysnmp keeps no other handle
            config.add_v1_system(eng, "pmc-sim-area", self._community)
            for security_model in (1, 2):  # SNMPv1 and v2c
                config.add_vacm_user(eng, security_model, "pmc-sim-area", "noAuthNoPriv", (1, 3, 6))
            for user in self._v3_users:
                config.add_v3_user(
                    eng,
                    user.name,
                    _AUTH[user.auth_protocol] if user.auth_key else config.USM_AUTH_NONE,
                    user.auth_key,
                    _PRIV[user.priv_protocol] if user.priv_key else config.USM_PRIV_NONE,
                    user.priv_key,
                )
                level = "authPriv" if user.priv_key else "authNoPriv" if user.auth_key else "noAuthNoPriv"
                config.add_vacm_user(eng, 3, user.name, level, (1, 3, 6))
            snmp_context = context.SnmpContext(eng)
            snmp_context.unregister_context_name(b"")
            snmp_context.register_context_name(b"", self._instrumentation)
            self._responders = [
                _GetResponder(eng, snmp_context),
                _NextResponder(eng, snmp_context),
                _BulkResponder(eng, snmp_context),
                cmdrsp.SetCommandResponder(eng, snmp_context),
            ]
        except BaseException:
            await self.aclose()
            raise
        logger.debug("SNMP agent serving %s", self.url)

    async def aclose(self) -> None:
        eng, self._engine = self._engine, None
        if eng is None:
            return
        for responder in self._responders:
            responder.close(eng)
        self._responders = []
        eng.close_dispatcher()
        # asyncio closes a datagram transport's socket on the next loop iteration
        await asyncio.sleep(0)
        await asyncio.sleep(0)
