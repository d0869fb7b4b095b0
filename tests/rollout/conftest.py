"""A PostgreSQL server for the rollout tests, started on loopback by the fixture.

initdb and postgres refuse to run as root (CI runs as root): then both run as the
``postgres`` system user (or a ``wxapg`` user created for it). Skipped when the
binaries are missing, except under ``CI``, where that fails the run.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _user() -> str | None:
    """The unprivileged user to run the server as (None: we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "wxapg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "wxapg"], check=True)
    return "wxapg"


def _as(user: str | None, argv: list[str]) -> list[str]:
    return argv if user is None else ["runuser", "-u", user, "--", *argv]


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for the session; the URL of its ``postgres`` database."""
    bindir = _binaries()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed")
    user = _user()
    workdir = tempfile.mkdtemp(prefix="wxa-pg-")
    data = os.path.join(workdir, "data")
    if user is not None:
        info = pwd.getpwnam(user)
        os.chown(workdir, info.pw_uid, info.pw_gid)
    port = _free_port()
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(_as(user, [os.path.join(bindir, "initdb"), "-D", data, "-U", "wxa",
                                  "--auth=trust", "-E", "UTF8", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = subprocess.Popen(
            _as(user, [os.path.join(bindir, "postgres"), "-D", data, "-p", str(port),
                       "-k", workdir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                       "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                       "-c", "max_connections=200"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not _accepting(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("postgres did not start")
            time.sleep(0.05)
        time.sleep(0.2)  # the socket accepts a moment before logins do
        yield f"postgresql://wxa@127.0.0.1:{port}/postgres"
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A new, empty database on the session's server."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        for attempt in range(50):
            try:
                conn = await asyncpg.connect(pg_server)
                break
            except (OSError, asyncpg.PostgresError):
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return pg_server.rsplit("/", 1)[0] + "/" + name
