"""The ceiling below ASGI: a bare uvloop ``asyncio.Protocol`` that parses requests with httptools
and answers each with the same fixed bytes (an 88-byte HTTP/1.1 answer, keep-alive).

What a Python server can do per core before it does any work of its own: no ASGI scope, no
messages, no routing.  Run::

    python benchmarks/http/bare_protocol.py --port 18090
"""

from __future__ import annotations

import argparse
import asyncio

import httptools
import uvloop

BODY = b'{"hello":"world"}'
ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
          % (len(BODY), BODY))


class Bare(asyncio.Protocol):
    """One connection: every complete request is answered with :data:`ANSWER`, in order."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_complete(self) -> None:
        if self.transport is not None:
            self.transport.write(ANSWER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    args = parser.parse_args()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(Bare, args.host, args.port, backlog=1024))
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
