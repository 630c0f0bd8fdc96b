"""A loopback TCP proxy in front of PostgreSQL that counts what the driver sends: round trips and statements.

A round trip is each time the client speaks again after the server has answered (the driver waits
for the answer before it goes on); several messages sent in one go (asyncpg's Bind/Execute/Sync)
are one round trip. Statements are the protocol's Execute ('E') and simple Query ('Q') messages.
Transactions are read from the server's ReadyForQuery ('Z') status byte: each return to idle ('I')
after at least one statement ends one (an explicit block, or a statement in its own implicit one).
Connection start-up is counted too, so a pool that opens connections mid-request shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import Counter
from dataclasses import dataclass, field

_UNTYPED_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest: the next message is untyped again


@dataclass
class Counts:
    connections: int = 0
    round_trips: int = 0
    transactions: int = 0
    idle_returns: int = 0  # every ReadyForQuery 'I', also after a Parse/Describe-only exchange (a prepare)
    messages: Counter[str] = field(default_factory=Counter)

    @property
    def statements(self) -> int:
        return self.messages["E"] + self.messages["Q"]

    def snapshot(self) -> Counts:
        return Counts(self.connections, self.round_trips, self.transactions, self.idle_returns, Counter(self.messages))

    def since(self, before: Counts) -> dict[str, int]:
        return {
            "round_trips": self.round_trips - before.round_trips,
            "statements": self.statements - before.statements,
            "transactions": self.transactions - before.transactions,
            "idle_returns": self.idle_returns - before.idle_returns,
            "new_connections": self.connections - before.connections,
            "syncs": self.messages["S"] - before.messages["S"],
        }


class _ClientStream:
    """Splits the client's bytes into protocol messages (only their type bytes are kept)."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = b""
        self.started = False
        self.encrypted = False
        self.statements_since_idle = 0

    def feed(self, data: bytes) -> None:
        if self.encrypted:
            return
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                self.buffer = self.buffer[length:]
                self.started = code not in _UNTYPED_REQUESTS
                continue
            if len(self.buffer) < 5:
                return
            kind = chr(self.buffer[0])
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            self.buffer = self.buffer[1 + length :]
            self.counts.messages[kind] += 1
            if kind in ("E", "Q"):
                self.statements_since_idle += 1


class _ServerStream:
    """Finds the server's ReadyForQuery messages; a return to idle after statements ends a transaction."""

    def __init__(self, client: _ClientStream) -> None:
        self.client = client
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        if self.client.encrypted:
            return
        if not self.client.started:  # the one-byte answer to an SSLRequest, before the startup message
            return
        self.buffer += data
        while len(self.buffer) >= 5:
            kind = self.buffer[:1]
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body = self.buffer[5 : 1 + length]
            self.buffer = self.buffer[1 + length :]
            if kind == b"Z" and body == b"I":
                self.client.counts.idle_returns += 1
                if self.client.statements_since_idle:
                    self.client.counts.transactions += 1
                    self.client.statements_since_idle = 0


class WireCounter:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        """`upstream_host` may be a directory: PostgreSQL's unix socket there (as the embedded server uses)."""
        self.upstream = (upstream_host, upstream_port)
        self.counts = Counts()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> WireCounter:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        host, port = self.upstream
        if host.startswith("/"):
            upstream_reader, upstream_writer = await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        else:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        self.counts.connections += 1
        stream = _ClientStream(self.counts)
        answers = _ServerStream(stream)
        last = {"from": "server"}  # the connection starts with the client speaking: one round trip

        async def client_to_server() -> None:
            while data := await client_reader.read(65536):
                if last["from"] != "client":
                    self.counts.round_trips += 1
                    last["from"] = "client"
                stream.feed(data)
                upstream_writer.write(data)
                await upstream_writer.drain()

        async def server_to_client() -> None:
            while data := await upstream_reader.read(65536):
                if not stream.started and data[:1] == b"S":
                    stream.encrypted = True  # TLS from here on: round trips only, no message types
                last["from"] = "server"
                answers.feed(data)
                client_writer.write(data)
                await client_writer.drain()

        pumps = [asyncio.create_task(client_to_server()), asyncio.create_task(server_to_client())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for writer in (client_writer, upstream_writer):
                with contextlib.suppress(Exception):
                    writer.close()
