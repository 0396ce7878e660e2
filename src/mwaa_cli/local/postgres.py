"""A PostgreSQL server an environment owns: made with ``initdb`` on first start, run by the
warden beside Airflow's components, stopped with them.

The binaries are the machine's (Debian/Ubuntu ``postgresql``, Homebrew, ``pg_config
--bindir``), else the ``pgserver`` wheel's (``pip install pgserver``); ``MWAA_CLI_PG_BIN``
names a folder explicitly. The cluster listens on TCP only (no Unix socket), on loopback
unless the environment binds another address, with one password-protected role
(``scram-sha-256``); its data lives in the environment's home. PostgreSQL refuses to run as
root, so as root it runs as the ``postgres`` user (else ``nobody``) with its data in
``/var/lib/mwaa-cli/postgres/<id>`` (root's home is not theirs to enter).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..errors import ConfigError, MwaaError

ROLE = "mwaa"
DATABASE = "airflow"
BIN_VAR = "MWAA_CLI_PG_BIN"
ROOT_DATA = Path("/var/lib/mwaa-cli/postgres")


class PostgresError(MwaaError):
    """The owned PostgreSQL server could not be made or did not answer."""


def find_bindir() -> Path:
    """The folder with ``initdb``, ``postgres`` and ``createdb``; a clear error when none."""
    candidates: list[str] = []
    if explicit := os.environ.get(BIN_VAR):
        candidates.append(explicit)
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            candidates.append(out.stdout.strip())
        except OSError:
            pass
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _major(p), reverse=True
    )
    candidates += ["/usr/local/opt/postgresql/bin", "/opt/homebrew/bin", "/usr/local/bin"]
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).parent))
    try:  # the pgserver wheel ships a PostgreSQL build
        import pgserver  # type: ignore[import-not-found]

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin"))
    except ImportError:
        pass
    for folder in candidates:
        if folder and all((Path(folder) / exe).is_file() for exe in ("initdb", "postgres")):
            return Path(folder)
    raise ConfigError(
        "the Celery backend needs PostgreSQL: install it (apt install postgresql, brew "
        "install postgresql) or `pip install pgserver` beside mwaa-cli, or name its bin "
        f"folder with {BIN_VAR}, or give your own server with --db-url"
    )


def _major(path: str) -> int:
    try:
        return int(Path(path).parent.name.split(".")[0])
    except ValueError:
        return 0


def _run_as() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as: None (this one) unless this is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ConfigError("running as root, and neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class OwnedPostgres:
    """The cluster of the environment at ``home``: where its data is, how it is started."""

    home: Path
    password: str
    port: int
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    bindir: Path = field(default_factory=find_bindir)

    @property
    def user(self) -> pwd.struct_passwd | None:
        return _run_as()

    @property
    def base(self) -> Path:
        """The folder that holds the cluster (and nothing else of the environment's)."""
        if self.user is None:
            return self.home / "postgres"
        return ROOT_DATA / hashlib.sha256(str(self.home).encode()).hexdigest()[:16]

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, host: str = "127.0.0.1", driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{ROLE}:{quote(self.password, safe='')}@{host}:{self.port}/{DATABASE}"

    def _as_owner(self, path: Path) -> None:
        if (user := self.user) is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def init(self, log, fresh: bool = False) -> bool:
        """Make the cluster unless it exists (``fresh``: the home is new, so a cluster
        left at its place belongs to a deleted one and goes); True when made now."""
        if self.user is not None:
            ROOT_DATA.mkdir(parents=True, exist_ok=True)
            os.chmod(ROOT_DATA.parent, 0o755)
            os.chmod(ROOT_DATA, 0o711)  # its users enter their own folder, list nothing
            _forget_orphans()
        if (self.data / "PG_VERSION").is_file() and not fresh:
            return False
        shutil.rmtree(self.base, ignore_errors=True)  # a half-made one, or an orphan
        self.base.mkdir(mode=0o700, parents=True)
        self._as_owner(self.base)
        log(f"Creating the PostgreSQL cluster at {self.data} …")
        pwfile = self.base / "pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.password + "\n")
        self._as_owner(pwfile)
        try:
            done = subprocess.run(
                [
                    str(self.bindir / "initdb"),
                    "--pgdata",
                    str(self.data),
                    "--username",
                    ROLE,
                    "--pwfile",
                    str(pwfile),
                    "--auth",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                cwd="/",
                user=self.user.pw_uid if self.user else None,
                group=self.user.pw_gid if self.user else None,
                extra_groups=[] if self.user else None,
                env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.base, ignore_errors=True)
            raise PostgresError(f"initdb failed: {(done.stderr or done.stdout).strip()[-800:]}")
        if self.user is not None:  # whose it is: removed once that home is gone
            (self.base / "home").write_text(str(self.home))
        # TCP only, every address it listens on, and always a password
        (self.data / "pg_hba.conf").write_text(
            "# written by mwaa-cli: TCP only, a password always\n"
            f"host all {ROLE} all scram-sha-256\n"
        )
        return True

    def argv(self) -> list[str]:
        """The server's command line (run by the warden, as :attr:`user`)."""
        return [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={','.join(self.listen)}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=400",
            "-c",
            "synchronous_commit=off",  # a development server: a crash loses the last instant
            "-c",
            "log_min_messages=warning",
        ]

    def wait(self, timeout: float = 60.0, alive=lambda: True) -> None:
        """Until the server accepts a login; then make sure the Airflow database exists."""
        import psycopg

        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline and alive():
            try:
                with psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user=ROLE,
                    password=self.password,
                    dbname="postgres",
                    connect_timeout=3,
                    autocommit=True,
                ) as conn:
                    found = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
                    ).fetchone()
                    if not found:
                        conn.execute(f'CREATE DATABASE "{DATABASE}"')
                    return
            except psycopg.OperationalError as exc:
                last = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                time.sleep(0.2)
        raise PostgresError(f"PostgreSQL on port {self.port} did not answer ({last})")

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def _forget_orphans() -> None:
    """Remove clusters under :data:`ROOT_DATA` whose environment's home no longer exists."""
    for base in ROOT_DATA.iterdir():
        try:
            home = Path((base / "home").read_text().strip())
        except OSError:
            continue
        if not home.exists():
            shutil.rmtree(base, ignore_errors=True)
