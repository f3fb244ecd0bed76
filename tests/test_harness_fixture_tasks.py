"""A task owned by an async fixture is the fixture's to end, even when the test made the fixture start
it (a simulator's per-connection task): the leak check must wait for the fixture's teardown."""

import asyncio

import pytest


class Server:
    def __init__(self):
        self.tasks = []

    def connect(self):
        self.tasks.append(asyncio.create_task(asyncio.sleep(100), name="connection"))

    async def aclose(self):
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def server():
    s = Server()
    yield s
    await s.aclose()


async def test_tasks_a_fixture_starts_during_the_test_are_its_own_to_end(server):
    server.connect()
    await asyncio.sleep(0)
    assert not server.tasks[0].done()
