"""A short soak: memory, sockets and tasks stay flat with the cache full and evicting."""

import pytest

from tools.soak import run

pytestmark = pytest.mark.integration


def test_soak_memory_sockets_and_tasks_stay_flat() -> None:
    # GIVEN three times more users than the cache holds, so it evicts all the time
    report = run(invocations=4000, users=600, max_entries=200)
    start, end = report["start"], report["end"]
    assert report["denied"] == 0
    assert end["cache_entries"] == 200
    assert 0.2 < report["cache_hit_ratio"] < 0.5  # about 200/600 of sign-ins are hits
    # THEN nothing grows: traced Python memory, sockets, tasks
    assert end["tracemalloc_mb"] - start["tracemalloc_mb"] < 0.5
    assert end["open_fds"] <= start["open_fds"]
    assert end["asyncio_tasks"] == start["asyncio_tasks"] == 0
    assert end["rss_mb"] - start["rss_mb"] < 8
