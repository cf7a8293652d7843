"""A TCP proxy the tests control, standing for an agency's link to the centre: `cut()` drops every
connection and refuses new ones until `restore()`; `blackhole()` carries nothing either way but closes
nothing (a partition that drops packets, a half-open link) until `restore()`."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class TcpProxy:
    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()  # cleared while blackholed
        self.up = False

    def start(self) -> None:
        self._thread.start()
        self.restore()

    def restore(self) -> None:
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._flowing.set)
        self.up = True

    def blackhole(self) -> None:
        """Stop carrying bytes without closing anything: open connections stay open and hold what was
        sent (delivered on `restore()`, as TCP would retransmit it), a new one is accepted but nothing
        answers, and a close waits too. Neither end can tell until its own timeouts say so."""
        self._loop.call_soon_threadsafe(self._flowing.clear)
        self.up = False

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(5)
        self.up = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.cut()
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.listen_port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # a dropped link, not a polite close
        self._writers.clear()
        self._flowing.set()  # pipes held by a blackhole find their sockets gone and end

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            await self._flowing.wait()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}
