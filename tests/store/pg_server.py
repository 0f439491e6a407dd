"""A throw-away PostgreSQL server for the tests: initdb into a temporary directory, started on a free loopback port.

The server listens on 127.0.0.1 only, with its unix socket in the same temporary directory, so
it never meets another server of the machine. ``initdb`` and the server refuse to run as root:
as root (CI) they run as the ``postgres`` system user (created by Debian's postgresql package),
else as ``nobody``. Authentication is ``trust`` for the test role, and SCRAM for a second role
with a password, so that the tests can see what a wrong password gives.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.serving import free_port

__all__ = ["PASSWORD", "PASSWORD_ROLE", "PgServer", "find_bindir", "free_port"]

ROLE = "autolog"
PASSWORD_ROLE = "autolog_pw"
PASSWORD = "right-password"  # a test server's, on loopback, for the wrong-password test
_DEBIAN_BINDIR = Path("/usr/lib/postgresql/15/bin")


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else ``pg_config --bindir``, else Debian's PostgreSQL 15 path."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    return _DEBIAN_BINDIR if (_DEBIAN_BINDIR / "initdb").exists() else None


def _server_user() -> str | None:
    """The unprivileged user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as")


class PgServer:
    """One PostgreSQL cluster in a temporary directory. ``start()``, ``uri(db)``, ``create_database()``, ``stop()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = _server_user()
        # Not under pytest's tmp_path: its directories are private to root, and the server runs as another user.
        self.root = Path(tempfile.mkdtemp(prefix="autolog-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.started = False

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                               f"\n{log}")
        return result

    def _own(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        for path in (self.data, self.socket_dir):
            path.mkdir()
            self._own(path)
        self.log.touch()
        self._own(self.log)
        self._run("initdb", "-D", str(self.data), "-U", ROLE, "--auth=trust", "--encoding=UTF8", "--locale=C",
                  "--no-sync")
        # The password role must give its password over TCP; every other role is trusted (a test server).
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n")
        self._own(self.data / "pg_hba.conf")

    def start(self) -> None:
        if not self.data.exists():
            self.init()
        # fsync off: a test server's data need not survive a power cut (the OS keeps it across a server crash,
        # which the restart test makes; synchronous_commit stays on, or that crash would lose acknowledged commits).
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off"
                   " -c full_page_writes=off -c max_connections=200"
                   " -c shared_buffers=256MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self.started = True
        if not getattr(self, "_roles_made", False):
            self.sql(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
            self._roles_made = True

    def stop(self, mode: str = "fast") -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)
            self.started = False

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop at once (connections are cut, as by a crash), stay down ``down_seconds``, start on the same port."""
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def uri(self, database: str, user: str = ROLE, password: str | None = None, port: int | None = None,
            scheme: str = "postgresql") -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"{scheme}://{auth}@127.0.0.1:{port or self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement as the test role, in autocommit mode (CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(self.uri(database), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        if self.started:
            self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
