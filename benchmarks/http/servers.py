"""The servers of the per-core harness, each a process pinned to one core (``taskset -c``), and the
OS tools they need (installed from the OS packages when missing, as ``wrk`` always was)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
UVICORN = [PYTHON, "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning", "--no-server-header"]
_TICK = os.sysconf("SC_CLK_TCK")


class Proc:
    """A server process pinned to one core; ``taskset`` execs it, so the pid is the server's own."""

    def __init__(self, name: str, cmd: list[str], port: int, core: int, env: dict[str, str] | None = None,
                 cwd: Path | None = None, log: Path | None = None) -> None:
        self.name = name
        self.port = port
        self.core = core
        self._log = open(log, "wb") if log is not None else None  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(["taskset", "-c", str(core), *cmd], cwd=cwd, env={**os.environ, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=self._log or subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_http(self, path: str, timeout: float = 180.0) -> float:
        """Seconds until ``GET path`` answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as answer:
                    if answer.status == 200:
                        return time.monotonic() - started
            except (OSError, urllib.error.HTTPError):
                pass
            self._check_alive()
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: {path} never answered 200")

    def wait_port(self, timeout: float = 60.0) -> float:
        """Seconds until the port accepts connections (for servers that do not speak HTTP)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return time.monotonic() - started
            except OSError:
                self._check_alive()
                time.sleep(0.02)
        raise RuntimeError(f"{self.name}: port {self.port} never opened")

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")

    def cpu_seconds(self) -> float:
        """utime + stime of the whole process (all its threads) so far."""
        return cpu_seconds(self.pid)

    def rss_anon_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` from ``/proc/PID/stat`` (fields 14 and 15), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _TICK


def ensure_tool(binary: str, package: str) -> bool:
    """Install `package` from the OS packages when `binary` is missing; True when it is there after."""
    if shutil.which(binary):
        return True
    print(f"installing {package} from the OS packages", file=sys.stderr, flush=True)
    for step in (["apt-get", "install", "-y", package], ["apt-get", "update"], ["apt-get", "install", "-y", package]):
        if shutil.which(binary):
            break
        subprocess.run(step, check=False, capture_output=True)
    return shutil.which(binary) is not None


def rodata_serve(name: str, data_root: Path, port: int, core: int, *extra: str) -> Proc:
    return Proc(name, [PYTHON, "-m", "rodata", "serve", "--data-root", str(data_root), "--port", str(port),
                       "--log-level", "warning", *extra], port, core)


def uvicorn_app(name: str, target: str, port: int, core: int, env: dict[str, str] | None = None) -> Proc:
    return Proc(name, [*UVICORN, "--port", str(port), target], port, core, env=env, cwd=HERE)


def bare_protocol(port: int, core: int) -> Proc:
    return Proc("bare", [PYTHON, str(HERE / "bare_protocol.py"), "--port", str(port)], port, core)


def roapi_binary() -> str | None:
    """The ``roapi`` executable (``pip install roapi`` puts it beside this Python), or None."""
    beside = Path(PYTHON).parent / "roapi"
    if beside.exists():
        return str(beside)
    return shutil.which("roapi")


def roapi(parquet: Path, port: int, core: int, tmp: Path) -> Proc:
    """ROAPI with one key-value store, ``flights``: key ``id`` (a string column), value ``row`` (JSON text);
    ``GET /api/kv/flights/{id}`` answers the value.  Its per-request log is off, as rodata's is."""
    config = tmp / "roapi.yaml"
    config.write_text(f'tables: []\nkvstores:\n  - name: "flights"\n    uri: "{parquet}"\n    key: id\n'
                      f'    value: row\n')
    binary = roapi_binary()
    if binary is None:
        raise RuntimeError("roapi is not installed")
    # Its Postgres and FlightSQL listeners get ports of their own, out of the way of the others.
    return Proc("roapi", [binary, "-c", str(config), "-a", f"127.0.0.1:{port}", "-p", f"127.0.0.1:{port + 1000}",
                          "--addr-flight-sql", f"127.0.0.1:{port + 1001}"], port, core, env={"RUST_LOG": "warn"},
                log=tmp / "roapi.log")


def redis(port: int, core: int, commands: Path, tmp: Path) -> Proc:
    """redis-server (no persistence) loaded with ``redis-cli --pipe`` from `commands`."""
    proc = Proc("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", str(tmp)], port, core)
    try:
        proc.wait_port()
        with open(commands, "rb") as feed:
            subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=feed, check=True, capture_output=True)
    except BaseException:
        proc.stop()
        raise
    return proc
