"""A real, throwaway PostgreSQL server for tests and benchmarks, on 127.0.0.1 and a free port.

Its binaries come from `pg_config --bindir` (Debian's postgresql-15 package); `initdb` refuses to run as
root, so as root the cluster belongs to the `postgres` user (`runuser -u postgres -- ...`) in a temporary
folder removed when the server stops. Trust authentication on 127.0.0.1 only; fsync off (a test server).

    with PgServer.start() as server:
        url = server.create_database()      # postgresql://postgres@127.0.0.1:PORT/t_<hex>, a fresh database

`PgServer.start()` raises `PgUnavailable` when the binaries are missing: tests/conftest.py turns that
into a skip, or a failure when ARXIV_DIGEST_REQUIRE_POSTGRES=1 (as .ci/run sets).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

REQUIRE_ENV = "ARXIV_DIGEST_REQUIRE_POSTGRES"
USER = "postgres"


class PgUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def bindir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres, or None when PostgreSQL is not installed."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        candidates.append(Path(out.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((d for d in candidates if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One running PostgreSQL cluster in a temporary folder."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self.data = root / "data"
        self._as_postgres = os.geteuid() == 0

    @classmethod
    def start(cls) -> PgServer:
        found = bindir()
        if found is None:
            raise PgUnavailable("PostgreSQL server binaries not found (pg_config --bindir); install postgresql-15")
        root = Path(tempfile.mkdtemp(prefix="arxiv-digest-pg-"))
        server = cls(found, root, _free_port())
        try:
            server._init_and_start()
        except BaseException:
            server.stop()
            raise
        return server

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", USER, "--", *args] if self._as_postgres else list(args)

    def _init_and_start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, USER)
        subprocess.run(self._cmd(str(self.bin_dir / "initdb"), "-A", "trust", "-U", USER, "-E", "UTF8",
                                 "--locale=C", "-D", str(self.data)), check=True, capture_output=True)
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off"
                   " -c full_page_writes=off -c max_connections=300")
        subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options,
                                 "-l", str(self.root / "log"), "-w", "-t", "60", "start"),
                       check=True, capture_output=True)

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """postgresql://postgres[:password]@127.0.0.1:PORT/database (trust: any password is accepted)."""
        auth = f"{USER}:{password}" if password else USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with psql and return what it printed."""
        done = subprocess.run([str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
                               "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              check=True, capture_output=True, text=True)
        return done.stdout

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; return its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                     "-w", "stop"), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
