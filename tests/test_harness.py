"""The harness itself: the leak checks must catch what they are for."""

import asyncio
import socket
import threading

import pytest

from tests import conftest


def test_socket_inodes_sees_a_new_socket():
    before = conftest._socket_inodes()
    s = socket.socket()
    try:
        assert conftest._socket_inodes() - before
    finally:
        s.close()
    assert not conftest._socket_inodes() - before


def test_threads_sees_a_new_thread():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="leaky")
    before = conftest._threads()
    t.start()
    try:
        assert {x.name for x in conftest._threads() - before} == {"leaky"}
    finally:
        stop.set()
        t.join()


async def test_async_tests_get_the_task_leak_check(request):
    assert "no_leaked_tasks" in request.fixturenames
    task = asyncio.create_task(asyncio.sleep(0), name="short")
    await task
