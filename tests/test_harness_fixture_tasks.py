"""A task owned by an async fixture is the fixture's to end: the leak check must wait for its teardown."""

import asyncio, pytest
@pytest.fixture
async def worker():
    t = asyncio.create_task(asyncio.sleep(100), name="fixture-task")
    yield t
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
async def test_fixture_task_is_cleaned_by_its_fixture(worker):
    assert not worker.done()
