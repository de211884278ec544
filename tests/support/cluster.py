"""A real django-q2 cluster for tests: `manage.py qcluster` in its own process group, on the
test database (and the test's broker), with the environment a test gives it.

``start_cluster`` starts one; ``Cluster.kill`` ends its whole process group at once with SIGKILL
(a worker killed mid-task), ``Cluster.stop`` asks it to stop and waits. The ``clusters`` fixture
starts clusters on a purged queue and kills whatever is still running when the test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parents[2]


def subprocess_database_url() -> str:
    """The test database as a DATABASE_URL, for a process the test starts."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str):
    """``predicate()``'s first true value, polled until ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}.")
        time.sleep(interval)


@dataclass
class Cluster:
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def assert_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"qcluster exited: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: the sentinel, its workers, monitor and pusher at once."""
        if self.process.returncode is None:  # not reaped yet, so its group id is still its own
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20) -> None:
        """Ask the cluster to stop (SIGTERM to the sentinel); killed if it has not within ``timeout``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def start_cluster(*, env: dict[str, str], log: Path) -> Cluster:
    """`manage.py qcluster` on the test database, this process's environment plus ``env``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=PROJECT_DIR,
            env={**os.environ, "DATABASE_URL": subprocess_database_url(), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill reaches every process
        )
    return Cluster(process=process, log=log)


def purge_task_queue() -> None:
    """Tasks left in the broker by an earlier test would run on this test's cluster."""
    from django_q.brokers import get_broker

    get_broker().purge_queue()


@pytest.fixture
def clusters(transactional_db, tmp_path):
    """``clusters(**env)`` starts a cluster on the test database; each is killed at the end."""
    purge_task_queue()
    started: list[Cluster] = []

    def start(**env: str) -> Cluster:
        cluster = start_cluster(env=env, log=tmp_path / f"qcluster-{len(started) + 1}.log")
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.kill()
