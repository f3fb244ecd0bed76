"""The exception tree shared by drivers and the controller.

    PmcError
     ├── DeviceError                  a device misbehaved or could not be reached
     │    ├── DeviceTimeoutError      no answer in time
     │    └── WireProtocolError       bytes that do not parse (carries the offset where known)
     ├── PieceError                   a piece event the ledger refuses (controller.errors)
     ├── StreamError                  a print stream that does not parse (controller.errors)
     └── ConfigError                  a plant file that does not validate (controller.errors)

Library exceptions (OSError, serial.SerialException, pysnmp error indications...) are translated
into this tree once, at the driver's edge; nothing from a library leaks into controller/.
The root lives in drivers/ because drivers may not import controller/.
"""

from __future__ import annotations


class PmcError(Exception):
    """Root of every error pmc raises on purpose."""


class DeviceError(PmcError):
    def __init__(self, message: str, *, device: str | None = None) -> None:
        self.device = device
        super().__init__(f"{device}: {message}" if device else message)


class DeviceTimeoutError(DeviceError):
    pass


class WireProtocolError(DeviceError):
    def __init__(self, message: str, *, device: str | None = None, offset: int | None = None) -> None:
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{message}{where}", device=device)
