"""The suite's own plumbing: each pytest-xdist worker owns a Redis database of its own."""

from __future__ import annotations

import pytest

from tests.conftest import redis_db_for_worker


def test_each_worker_owns_its_own_database_and_none_uses_database_0() -> None:
    dbs = [redis_db_for_worker(13, worker) for worker in range(15)]
    assert dbs[:4] == [13, 14, 15, 12]  # two workers keep 13 and 14, as before
    assert sorted(dbs) == list(range(1, 16))


def test_more_workers_than_databases_is_refused_with_the_fix() -> None:
    with pytest.raises(pytest.UsageError, match="run fewer workers"):
        redis_db_for_worker(13, 15)
