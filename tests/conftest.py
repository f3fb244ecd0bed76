"""Test harness: every test has a timeout (pyproject), and none may leave tasks, threads or sockets behind."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import threading
import time

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis's default 200 ms deadline per example, and its too-slow health check, time the machine, not the code:
# a process stalled for half a second on a busy CI machine fails a property test with "Unreliable test timings".
# A property test states its own settings; these are the defaults it inherits (pytest's timeout bounds a hang).
settings.register_profile("pmc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pmc")


def _socket_inodes() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def _threads() -> set[threading.Thread]:
    # the default executor's workers belong to the test's loop, which pytest-asyncio closes after us
    return {t for t in threading.enumerate() if t.is_alive() and not t.name.startswith("asyncio_")}


def _settle(check, seconds: float = 2.0):
    deadline = time.monotonic() + seconds
    while True:
        left = check()
        if not left or time.monotonic() > deadline:
            return left
        gc.collect()
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def no_leaked_threads_or_sockets():
    threads_before = _threads()
    sockets_before = _socket_inodes()
    yield
    leaked_threads = _settle(lambda: _threads() - threads_before)
    leaked_sockets = _settle(lambda: _socket_inodes() - sockets_before)
    problems = []
    if leaked_threads:
        problems.append(f"threads left running: {sorted(t.name for t in leaked_threads)}")
    if leaked_sockets:
        problems.append(f"sockets left open: {len(leaked_sockets)}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
async def no_leaked_tasks():
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    for _ in range(50):
        left = {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}
        if not left:
            return
        await asyncio.sleep(0.02)
    names = sorted(t.get_name() for t in left)
    for task in left:
        task.cancel()
    pytest.fail(f"tasks left running: {names}", pytrace=False)


def pytest_collection_modifyitems(items):
    for item in items:
        fn = getattr(item, "function", None)
        if fn is not None and inspect.iscoroutinefunction(fn):
            item.fixturenames.insert(0, "no_leaked_tasks")  # set up first, torn down after the test's own fixtures
