"""HTTP server for the test web: a forward proxy that never connects out.

Scrapy reaches the ``.test`` hosts without DNS by using this server as its HTTP proxy
(``http_proxy=http://127.0.0.1:PORT``): a proxied request arrives in absolute form
(``GET http://site-07.test/p/12 HTTP/1.1``) and is answered from :class:`TestWeb`.
Origin-form requests whose ``Host`` is a test-web host are served the same way. Anything
else that names a host is answered ``502`` (the server never opens an outbound
connection); ``CONNECT`` is ``405``.

Requests to the server's own address (origin form, ``Host`` a loopback name) reach the
control endpoints::

    GET  /_testweb/hits       {url: count}, every request the web answered, as requested
    GET  /_testweb/hit_times  {url: [time.monotonic() at arrival, ...]}
    GET  /_testweb/info            {config, hosts, seeds, robots_down}
    POST /_testweb/reset           forget the hits, end a robots outage
    POST /_testweb/robots_down     start a robots outage: ROBOTS_503_HOST's robots.txt is 503
    POST /_testweb/robots_recover  end it: that robots.txt answers 200 again

The two robots endpoints answer ``{"robots_down": bool, "time": time.monotonic()}`` on the
clock of the hit times: read just after the switch to down, just before the switch back, so
every request answered 200 after an outage arrived after the recovery's ``time``.

:func:`run_server` runs it in a thread for tests; :func:`serve_main` is
``linkcrawl testweb serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NoReturn, Self
from urllib.parse import urlsplit

from linkcrawl.testweb.generator import TestWeb, TestWebConfig

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import FrameType, TracebackType

    from linkcrawl.testweb.generator import TestResponse


__all__ = ["TestWebServer", "main", "run_server", "serve_main"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL = "/_testweb/"


_TEXT = "text/plain; charset=utf-8"
_MAX_HEAD = 64 * 1024

# status, headers, body (bytes, or byte chunks for the streamed oversize page)
Answer = tuple[int, list[tuple[str, str]], "bytes | Iterator[bytes]"]


def _text(status: int, text: str) -> Answer:
    return status, [("Content-Type", _TEXT)], text.encode()


class _EventLoopProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.x connection of the event-loop serving mode."""

    def __init__(self, app: TestWebServer) -> None:
        self.app = app
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.app._transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.app._transports.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self._respond("HTTP/1.1", "GET", _text(431, "431 header too large\n"), False)
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get("content-length") or 0)
            except ValueError:
                length = -1
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or length < 0:
                self._respond("HTTP/1.1", "GET", _text(400, "400 Bad Request\n"), False)
                return
            if len(self.buffer) < end + 4 + length:
                return  # the request body has not all arrived
            self.buffer = self.buffer[end + 4 + length :]
            method, target, version = parts
            connection = headers.get("connection", "").lower()
            keep = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
            answer = self.app.answer(method, target, headers.get("host"))
            self._respond(version, method, answer, keep and method != "CONNECT")

    def _respond(self, version: str, method: str, answer: Answer, keep: bool) -> None:
        assert self.transport is not None
        status, headers, body = answer
        if not isinstance(body, bytes):
            body = b"".join(body)
        head = [f"{version} {status} {HTTPStatus(status).phrase}", "Server: linkcrawl-testweb/1"]
        head += [f"{name}: {value}" for name, value in headers]
        head.append(f"Content-Length: {len(body)}")
        if not keep:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.transport.write(data if method == "HEAD" else data + body)
        if not keep:
            self.transport.close()


class _Hits:
    """Thread-safe request log: absolute URL -> arrival times (``time.monotonic()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = {}

    def record(self, url: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._times.setdefault(url, []).append(now)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {url: len(times) for url, times in self._times.items()}

    def times(self) -> dict[str, list[float]]:
        with self._lock:
            return {url: list(times) for url, times in self._times.items()}

    def reset(self) -> None:
        with self._lock:
            self._times.clear()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: TestWebServer) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down keep-alive connections still open, so their threads end."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # a client that went away (e.g. Scrapy cancelling the oversize page)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "linkcrawl-testweb/1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections end after this many seconds
    server: _HTTPServer
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's, filled by send_header()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.verbose:
            sys.stderr.write(f"testweb: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._dispatch("POST")

    def do_CONNECT(self) -> None:
        self.close_connection = True
        self._send(*self.server.app.answer("CONNECT", self.path, self.headers.get("Host")))

    # -- dispatch -----------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        status, headers, body = self.server.app.answer(method, self.path, self.headers.get("Host"))
        self._send(status, headers, body, head=method == "HEAD")

    # -- writing ------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes | Iterator[bytes],
        *,
        head: bool = False,
    ) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        for name, value in headers:
            self.send_header(name, value)
        if isinstance(body, bytes):
            self.send_header("Content-Length", str(len(body)))
            if head or self.request_version == "HTTP/0.9":
                self.end_headers()
                if not head:
                    self.wfile.write(body)
                return
            # The same bytes as end_headers() + write(body), in one send: one segment
            # for a typical page instead of two (with TCP_NODELAY), half the syscalls.
            self._headers_buffer.extend((b"\r\n", body))
            self.flush_headers()
            return
        has_length = any(name.lower() == "content-length" for name, _ in headers)
        if not has_length:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        try:
            for chunk in body:
                if has_length:
                    self.wfile.write(chunk)
                elif chunk:
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            if not has_length:
                self.wfile.write(b"0\r\n\r\n")
        except (ConnectionError, TimeoutError):
            self.close_connection = True


class TestWebServer:
    """The test web behind an HTTP proxy on ``host:port`` (0 = an ephemeral port).

    Binds in the constructor. ``with TestWebServer(...)`` (or :func:`run_server`) serves
    from a daemon thread; :meth:`serve_forever` serves from the calling thread.

    ``event_loop=True`` serves from one asyncio loop instead of a thread per connection:
    several times less CPU per request (no header parsing by ``email``, no GIL handoffs
    between connection threads), for benchmarks; only GET/HEAD/POST/CONNECT, and bodies
    are sent whole with a Content-Length.

    ``prerender=True`` renders every page a full crawl fetches before serving, so that
    serving costs only the HTTP exchange: benchmarks run the server on the same cores as
    the crawlers they time, and rendering would otherwise be a third of its CPU.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        config: TestWebConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
        prerender: bool = False,
        event_loop: bool = False,
    ) -> None:
        self.web = TestWeb(config)
        self.verbose = verbose
        self.event_loop = event_loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped_event = asyncio.Event()
        self._transports: set[asyncio.Transport] = set()
        # absolute URL as requested -> its response (bodies only; streams stay live)
        self.rendered: dict[str, TestResponse] = {}
        if prerender:
            for url in self.web.expected_pages():
                response = self.web.respond(url)
                if isinstance(response.body, bytes):
                    self.rendered[url] = response
        self.hits_log = _Hits()
        self._robots_down = False
        self._httpd = _HTTPServer((host, port), self)
        self.host: str = str(self._httpd.server_address[0])
        self.port: int = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``http://HOST:PORT``, the value for ``http_proxy``."""
        return f"http://{self.host}:{self.port}"

    def hits(self) -> dict[str, int]:
        """Requests per absolute URL as requested (robots.txt included)."""
        return self.hits_log.counts()

    def hit_times(self) -> dict[str, list[float]]:
        """Arrival times (``time.monotonic()``) per absolute URL."""
        return self.hits_log.times()

    def reset(self) -> None:
        """Forget all hits; end a robots outage."""
        self.hits_log.reset()
        self._robots_down = False

    def robots_down(self) -> dict[str, Any]:
        """Start a robots outage: from now on the robots.txt of ``ROBOTS_503_HOST`` answers
        503 (``TestWeb.respond(url, robots_outage=True)``) until :meth:`robots_recover` or
        :meth:`reset`. Returns the state and the ``time.monotonic()`` it took effect."""
        self._robots_down = True
        return {"robots_down": True, "time": time.monotonic()}

    def robots_recover(self) -> dict[str, Any]:
        """End a robots outage. The returned ``time`` is taken before the switch: every
        request that gets the 200 arrives after it."""
        now = time.monotonic()
        self._robots_down = False
        return {"robots_down": False, "time": now}

    def reset_json(self) -> dict[str, bool]:
        self.reset()
        return {"reset": True}

    def info(self) -> dict[str, Any]:
        c = self.web.config
        return {
            "config": {
                "pages": c.pages,
                "hosts": c.hosts,
                "seed": c.seed,
                "oversize_bytes": c.oversize_bytes,
            },
            "hosts": self.web.hosts,
            "seeds": self.web.seeds(),
            "robots_down": self._robots_down,
        }

    # -- answering ------------------------------------------------------------------------

    def answer(self, method: str, target: str, host: str | None) -> Answer:
        """Status, headers and body for a request (``target`` as on the request line,
        ``host`` the Host header); records the hit. Both serving modes use this."""
        if method == "CONNECT":
            return (
                405,
                [("Content-Type", _TEXT), ("Allow", "GET, HEAD")],
                b"405 Method Not Allowed: the test web is http only; CONNECT is not supported\n",
            )
        if _ABSOLUTE.match(target):
            parts = urlsplit(target)
            if self._is_own(parts.netloc):
                return self._control(method, parts.path)
            url = target
        elif target.startswith("/"):
            if host is None or self._is_own(host):
                return self._control(method, target)
            url = f"http://{host}{target}"
        else:
            return _text(400, f"400 Bad Request: unsupported request target {target!r}\n")
        self.hits_log.record(url)
        if method not in ("GET", "HEAD"):
            return _text(405, "405 Method Not Allowed: the test web answers GET and HEAD\n")
        try:
            # (robots.txt is never prerendered: it is not a page)
            response = self.rendered.get(url) or self.web.respond(
                url, robots_outage=self._robots_down
            )
        except Exception:  # a bug in the generator: answer, and say so on stderr
            traceback.print_exc()
            return _text(500, f"500 Internal Server Error: the test web failed to render {url}\n")
        return response.status, response.headers, response.body

    def _is_own(self, authority: str) -> bool:
        host, _, port = (
            authority.rpartition(":") if not authority.endswith("]") else (authority, "", "")
        )
        if not host or not port.isdigit():
            host = authority
        host = host.lower()
        return host in _LOOPBACK or host == self.host

    def _control(self, method: str, path: str) -> Answer:
        routes: dict[tuple[str, str], Any] = {
            ("GET", "hits"): self.hits,
            ("GET", "hit_times"): self.hit_times,
            ("GET", "info"): self.info,
            ("POST", "reset"): self.reset_json,
            ("POST", "robots_down"): self.robots_down,
            ("POST", "robots_recover"): self.robots_recover,
        }
        name = path[len(_CONTROL) :] if path.startswith(_CONTROL) else None
        handler = routes.get(("GET" if method == "HEAD" else method, name or ""))
        if handler is None:
            if name in {known for _, known in routes}:
                return _text(405, f"405 Method Not Allowed: {method} {path}\n")
            return _text(
                404,
                f"404 Not Found: this is the linkcrawl test web proxy; use it as http_proxy, "
                f"or GET {_CONTROL}{{hits,hit_times,info}} / "
                f"POST {_CONTROL}{{reset,robots_down,robots_recover}}\n",
            )
        body = json.dumps(handler(), ensure_ascii=False, sort_keys=True).encode()
        return 200, [("Content-Type", "application/json")], body

    # -- serving --------------------------------------------------------------------------

    def serve_forever(self) -> None:
        if self.event_loop:
            self._serve_event_loop()
        else:
            self._httpd.serve_forever(poll_interval=0.1)

    def _serve_event_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._httpd.socket.setblocking(False)
        if threading.current_thread() is threading.main_thread():
            # A signal handler that raises would land inside one of the loop's callbacks,
            # which logs and swallows it: stop the loop from the loop instead.
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._stopped_event.set)
        try:
            server = loop.run_until_complete(
                loop.create_server(lambda: _EventLoopProtocol(self), sock=self._httpd.socket)
            )
            loop.run_until_complete(self._stopped_event.wait())
            server.close()
            for transport in list(self._transports):
                transport.abort()
            loop.run_until_complete(server.wait_closed())
        finally:
            loop.close()
            self._loop = None

    def start(self) -> Self:
        """Serve from a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, name="testweb", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, close the listening socket and any open connections."""
        if self._thread is not None:
            if self.event_loop:
                self._stop_event_loop()
            else:
                self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self._httpd.close_connections()

    def _stop_event_loop(self) -> None:
        loop = self._loop
        while loop is None and self._thread is not None and self._thread.is_alive():
            time.sleep(0.01)  # the serving thread is still creating its loop
            loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._stopped_event.set)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def run_server(
    config: TestWebConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    verbose: bool = False,
) -> TestWebServer:
    """A bound :class:`TestWebServer`; use as ``with run_server(cfg) as srv:``."""
    return TestWebServer(config, host, port, verbose=verbose)


# --- command line -------------------------------------------------------------------------

_PROG = "linkcrawl testweb serve"


class _UsageError(Exception):
    pass


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _parser() -> _Parser:
    defaults = TestWebConfig()
    p = _Parser(prog=_PROG, description="Serve the linkcrawl test web as an HTTP proxy.")
    p.add_argument(
        "--pages", type=int, default=defaults.pages, help="content pages (default %(default)s)"
    )
    p.add_argument("--hosts", type=int, default=defaults.hosts, help="hosts (default %(default)s)")
    p.add_argument(
        "--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)"
    )
    p.add_argument(
        "--oversize-bytes",
        type=int,
        default=defaults.oversize_bytes,
        help="the oversize page is larger than this (default %(default)s)",
    )
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=0, help="port to bind, 0 = ephemeral (default)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.add_argument(
        "--prerender",
        action="store_true",
        help="render every page before listening, so serving costs only HTTP (benchmarks)",
    )
    p.add_argument(
        "--event-loop",
        action="store_true",
        help="serve from one asyncio loop, not a thread per connection (benchmarks)",
    )
    return p


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``linkcrawl testweb serve [--pages N] [--seed S] [--hosts H] [--port P] ...``.

    Prints ``testweb listening on http://HOST:PORT`` as its first stdout line, then serves
    until SIGINT/SIGTERM. Returns 2 on bad arguments (one line on stderr), 1 if it cannot
    bind, 0 after a clean stop. A leading ``serve`` token is accepted and skipped.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["serve"]:
        args_list = args_list[1:]
    try:
        args = _parser().parse_args(args_list)
        if not 0 <= args.port <= 65535:
            raise _UsageError(f"argument --port: must be between 0 and 65535, got {args.port}")
        config = TestWebConfig(
            pages=args.pages, hosts=args.hosts, seed=args.seed, oversize_bytes=args.oversize_bytes
        )
    except _Exit as stop:
        return stop.status
    except (_UsageError, ValueError) as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 2
    try:
        server = TestWebServer(
            config,
            args.bind,
            args.port,
            verbose=args.verbose,
            prerender=args.prerender,
            event_loop=args.event_loop,
        )
    except OSError as error:
        print(f"{_PROG}: error: cannot listen on {args.bind}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(f"testweb listening on {server.address}", flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        server.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m linkcrawl.testweb serve ...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        return serve_main(args[1:])
    if args[:1] in (["-h"], ["--help"]):
        print(f"usage: python -m linkcrawl.testweb serve [options]\n\n{_parser().format_help()}")
        return 0
    print("usage: python -m linkcrawl.testweb serve [options]  (see serve --help)", file=sys.stderr)
    return 2
