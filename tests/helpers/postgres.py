"""A private PostgreSQL server for the tests: its own data directory in a temp dir, a unix socket
there and no TCP listener, run as a non-root user (PostgreSQL refuses root), gone when stopped.

Debian's binaries live in /usr/lib/postgresql/NN/bin (not on PATH); `./dev` installs the
`postgresql` package. Never a shared or system server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from gateway.broker import free_port


class PostgresUnavailable(Exception):
    pass


def find_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(candidate, "initdb"), os.X_OK):
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    user = "tally"  # the database superuser's name (trust auth on the private socket only)

    def __init__(self, os_user: str = "nobody"):
        self.bin = find_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tally-postgres-"))
        self.data = self.dir / "data"
        self.os_user = os_user if os.geteuid() == 0 else None
        self._databases = 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.os_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=self.dir)
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {result.stderr.strip()[-800:]}")
        return result

    def start(self) -> "PrivatePostgres":
        if self.bin is None:
            raise PostgresUnavailable("PostgreSQL is not installed (Debian: apt-get install postgresql; ./dev does)")
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale", "C")
        options = f"-k {self.dir} -p {self.port} -c listen_addresses='' -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                  "-o", options, "-w", "-t", "30", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.dir}&port={self.port}"

    def create_database(self) -> str:
        """A fresh, empty database: tests share the server but never each other's data."""
        import psycopg

        self._databases += 1
        name = f"test_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self.bin is not None and (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


_server: PrivatePostgres | None = None


def shared_server() -> PrivatePostgres:
    """One private server per test run (starting one takes seconds); each test gets its own database."""
    global _server
    if _server is None:
        import atexit

        server = PrivatePostgres()
        try:
            server.start()
        except Exception:
            server.stop()
            raise
        atexit.register(server.stop)
        _server = server
    return _server
