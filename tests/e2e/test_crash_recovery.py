"""A real server killed with SIGKILL mid-run: after a restart every migration ends, outputs once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from application.settings import Settings
from domain.migration import Migration
from interface.runtime import build_runtime
from tests.conftest import import_sample, make_person

TERMINAL = {"SUCCESS", "FAILURE", "REVOKED"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`migration-engine serve` as a child process."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(Path(sys.executable).parent / "migration-engine"), "serve"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log.read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, Settings]]:
    port = _free_port()
    values = {
        "MIGRATION_ENGINE_DATABASE_URL": f"sqlite:///{tmp_path}/engine.db",
        "MIGRATION_ENGINE_DATA_DIR": str(tmp_path / "data"),
        "MIGRATION_ENGINE_WORKERS": "1",
        "PORT": str(port),
    }
    settings = Settings(
        database_url=values["MIGRATION_ENGINE_DATABASE_URL"], data_dir=tmp_path / "data"
    )
    child = Server({**os.environ, **values}, port, tmp_path / "server.log")
    yield child, settings
    child.stop()


def test_killing_the_server_mid_run_loses_nothing_and_repeats_nothing(
    server: tuple[Server, Settings],
) -> None:
    child, settings = server
    setup = build_runtime(settings, with_executor=False)
    author = make_person(setup, "author")
    work_id = import_sample(setup, author)
    setup.close()
    headers = {"Authorization": f"Bearer {author.token}"}

    child.start()
    ids = []
    for _ in range(12):
        response = httpx.post(
            f"{child.url}/api/authoring/migration/",
            json={"work_id": work_id, "features": {"web": True, "size_report": True}},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    def statuses() -> list[str]:
        return [
            httpx.get(f"{child.url}/api/authoring/migration/{mid}/status/", headers=headers).json()[
                "status"
            ]
            for mid in ids
        ]

    deadline = time.monotonic() + 30
    while "SUCCESS" not in statuses() and time.monotonic() < deadline:
        time.sleep(0.02)
    child.kill()

    reader = build_runtime(settings, with_executor=False)
    left = [reader.engine.migrations.status(author.caller, mid)["status"] for mid in ids]
    reader.close()
    assert "SUCCESS" in left and set(left) - TERMINAL, f"nothing was mid-run at the kill: {left}"

    child.start()
    deadline = time.monotonic() + 60
    while set(statuses()) - TERMINAL and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(statuses()) == {"SUCCESS"}
    child.stop()

    after = build_runtime(settings, with_executor=False)
    try:
        for mid in ids:
            events = list(after.engine.log.events.get(UUID(hex=mid[2:])))
            produced = Counter(e.name for e in events if isinstance(e, Migration.OutputProduced))
            assert produced == Counter({"web": 1, "size_report": 1}), (mid, produced)
    finally:
        after.close()
