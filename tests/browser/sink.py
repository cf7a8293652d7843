"""A dead end on 127.0.0.1 for everything Chromium's network stack would send elsewhere.

The offline guard's request routing sees what pages ask for; it does not see what the browser does on
its own beside them (Chromium called its autofill server as soon as a page had a form: the sink
caught it). Each context is therefore given this listener as its proxy, with only 127.0.0.1 and
localhost bypassing it: anything else reaches the sink, on this machine, which notes the target from
the first line, answers 403 and hangs up. A proxy resolves names itself, so none is looked up.
"""

from __future__ import annotations

import socket
import threading

from playwright.sync_api import ProxySettings

REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class ProxySink:
    def __init__(self) -> None:
        self.targets: list[str] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="proxy-sink", daemon=True)
        self._thread.start()

    @property
    def proxy(self) -> ProxySettings:
        """Playwright's proxy option: `<-loopback>` takes away Chromium's implicit bypass of the whole
        127.0.0.0/8 range and [::1], so only the two hosts named here are reached directly."""
        return {"server": f"http://127.0.0.1:{self.port}", "bypass": "<-loopback>,127.0.0.1,localhost"}

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    first = connection.recv(2048).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    first = ""
                # "CONNECT host:443 HTTP/1.1" or "GET http://host/path HTTP/1.1": the target is word 2.
                words = first.split()
                self.targets.append(words[1] if len(words) > 1 else "(a connection that sent nothing)")
                connection.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()
