"""A few fixed pages served over real HTTP on 127.0.0.1, with the hub's strict Content-Security-
Policy, for the tests of the browser harness itself; and a listener on another loopback address
that counts connections, to prove that a refused request never left the browser."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STRICT_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'"


@contextmanager
def serve(pages: dict[str, str], csp: str = STRICT_CSP) -> Iterator[str]:
    """Serve `pages` ({path: HTML, or a script for a path ending in .js}) at the returned base URL;
    other paths answer 404. An empty `csp`
    sends no policy, for pages whose requests must reach the browser's network layer."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?", 1)[0])
            self.send_response(200 if body is not None else 404)
            kind = "text/javascript" if self.path.endswith(".js") else "text/html"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            if csp:
                self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            self.wfile.write((body or "").encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _tcp_and_udp_on_one_port(host: str) -> tuple[socket.socket, socket.socket]:
    """A listening TCP socket and a UDP socket bound to the same free port (tried again if some
    other process holds the UDP side of the port the kernel gave TCP)."""
    for _ in range(20):
        tcp = socket.create_server((host, 0))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((host, tcp.getsockname()[1]))
        except OSError:
            tcp.close()
            udp.close()
            continue
        tcp.settimeout(0.2)
        udp.settimeout(0.2)
        return tcp, udp
    raise RuntimeError(f"no port free for both TCP and UDP on {host}")


class Tripwire:
    """A TCP listener and a UDP socket on one port of 127.0.0.2 (loopback, but not a host the offline
    promise allows) that count what arrives: nothing a guarded page sent must get here."""

    def __init__(self) -> None:
        self.connections = 0
        self.datagrams = 0
        self._socket, self._udp = _tcp_and_udp_on_one_port("127.0.0.2")
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self._udp.recv(2048)
            except TimeoutError:
                continue
            self.datagrams += 1

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._socket.close()
        self._udp.close()
