"""A scaled clock: simulated time runs `speed` times faster than the wall clock.

A shift's work (a 150 ipm printer printing for 8 hours) runs in 29 seconds at speed 1000. Every
simulator that models machine time (printing impressions, feeding inserts) reads and sleeps on one of
these, so one factor speeds up a whole print room. Speed may change while running: simulated time
stays continuous.
"""

from __future__ import annotations

import asyncio
import time


class ScaledClock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, not {speed}")
        self._speed = float(speed)
        self._base_real = time.monotonic()
        self._base_sim = 0.0

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, not {speed}")
        self._base_sim = self.now()
        self._base_real = time.monotonic()
        self._speed = float(speed)

    def now(self) -> float:
        """Simulated seconds since the clock was made."""
        return self._base_sim + (time.monotonic() - self._base_real) * self._speed

    def real_seconds(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) / self._speed

    async def sleep(self, sim_seconds: float) -> None:
        """Sleep `sim_seconds` of simulated time."""
        await asyncio.sleep(self.real_seconds(sim_seconds))

    async def sleep_until(self, sim_time: float) -> None:
        await asyncio.sleep(self.real_seconds(sim_time - self.now()))
