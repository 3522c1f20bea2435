"""Throw-away local brokers and databases for tests, benchmarks and trying things out.

:class:`LocalMosquitto` and :class:`LocalPostgres` run the Debian binaries
(``mosquitto``, ``/usr/lib/postgresql/*/bin``) on 127.0.0.1 on a free port,
with their whole state in a folder of their own; a deployment runs the
distribution's services instead (docs/plant.md). PostgreSQL refuses to run
as root, so as root the server runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from xrbridge.errors import XrbridgeError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )


def postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` with initdb and pg_ctl."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


class LocalMosquitto:
    """A Mosquitto broker on 127.0.0.1:``port`` with persistence in ``folder``.

    Persistence keeps a persistent subscriber's session and queued QoS 1
    messages across :meth:`stop` / :meth:`start` (as a plant's broker would).
    """

    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        *,
        tls: tuple[Path, Path, Path] | None = None,
        require_certificate: bool = False,
    ) -> None:
        """``tls``: (CA, server certificate, server key) PEM files for a TLS listener;
        ``require_certificate``: clients must show a certificate signed by that CA
        (it is their user name; anonymous clients are refused)."""
        exe = mosquitto_binary()
        if exe is None:
            raise XrbridgeError("mosquitto is not installed (apt-get install mosquitto)")
        if require_certificate and tls is None:
            raise XrbridgeError("require_certificate needs a TLS listener (tls=(ca, cert, key))")
        self.exe = exe
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.tls = tls is not None
        listener = f"listener {self.port} 127.0.0.1\n"
        if tls is not None:
            ca, cert, key = tls
            listener += f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
            if require_certificate:
                listener += "require_certificate true\nuse_identity_as_username true\n"
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text(
            listener + f"allow_anonymous {'false' if require_certificate else 'true'}\n"
            "persistence true\n"
            f"persistence_location {self.folder}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            f"log_dest file {self.folder}/mosquitto.log\n"
            # as root mosquitto would switch to its own user, who cannot write this folder
             + (f"user {pwd.getpwuid(os.geteuid()).pw_name}\n" if os.geteuid() == 0 else "")
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_port(self.port, timeout):
            self.stop()
            log = self.folder / "mosquitto.log"
            raise XrbridgeError(
                f"mosquitto did not listen on {self.port}: "
                f"{log.read_text()[-500:] if log.exists() else ''}"
            )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> LocalMosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalPostgres:
    """A PostgreSQL cluster in ``folder`` on 127.0.0.1:``port`` (trust auth, user postgres).

    Raises XrbridgeError when the binaries are missing or the server does not start.
    """

    def __init__(self, folder: Path | None = None, port: int | None = None) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise XrbridgeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        # the server's user must reach the folder: pytest's tmp_path is private to root
        self._own = folder is None
        self.folder = (
            Path(tempfile.mkdtemp(prefix="xrbridge-pg-")) if folder is None else Path(folder)
        )
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            r = self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            )
            if r.returncode:
                raise XrbridgeError(f"initdb failed: {r.stderr.strip()[-500:]}")
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c max_connections=40 -c shared_buffers=16MB"
        )
        r = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )
        if r.returncode:
            log = self.folder / "server.log"
            tail = log.read_text()[-800:] if log.exists() else ""
            raise XrbridgeError(f"pg_ctl start failed: {r.stderr.strip()[-300:]} {tail}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._own:
            shutil.rmtree(self.folder, ignore_errors=True)
