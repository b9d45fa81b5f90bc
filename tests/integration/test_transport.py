"""The store's HTTP/1.1 transport against a byte-scripted server: keep-alive, framing, faults.

Each test's server listens on 127.0.0.1 (free port) on the test's own loop and answers every
connection with a script (what it reads, what it writes, when it closes), so what the transport
does with keep-alive, a server closing an idle connection, chunked, close-delimited, truncated,
oversized and malformed answers, a stalled handshake and a cancelled read is seen exactly.
"""

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiodynamo.http.types import Request, RequestFailed

from bench.h11_codec import H11Codec
from shared.config import Settings
from shared.errors import ConfigError
from shared.lookup.codec import (
    Codec,
    LlhttpCodec,
    MalformedResponse,
    ResponseTooLarge,
    ResponseTruncated,
)
from shared.lookup.dynamodb import tls_context
from shared.lookup.transport import Transport
from tests.conftest import make_settings
from tools.tls_certs import server_context, throwaway_ca

pytestmark = pytest.mark.integration

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class RawServer:
    """Runs `script(reader, writer, connection_number)` for every connection it accepts."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            await self.script(reader, writer, self.connections)
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    made: list[RawServer] = []

    async def start(script: Script, tls: ssl.SSLContext | None = None) -> RawServer:
        server = RawServer(script)
        await server.start(tls)
        made.append(server)
        return server

    yield start
    for server in made:
        assert server.server is not None
        server.server.close()
        for writer in server.writers:
            writer.close()
        await server.server.wait_closed()
    await asyncio.sleep(0.01)  # the connections' tasks see their close


@pytest.fixture(params=[LlhttpCodec, H11Codec], ids=["llhttp", "h11"])
def codec(request: pytest.FixtureRequest) -> Callable[[int], Codec]:
    """Both parsers issue 21 measured meet the same matrix (llhttp ships, h11 is bench only)."""
    made: Callable[[int], Codec] = request.param
    return made


@pytest.fixture
def make(codec: Callable[[int], Codec]) -> Callable[..., Transport]:
    def build(settings: Settings | None = None, **options: int) -> Transport:
        return Transport(tls_context(settings or make_settings()), codec=codec, **options)

    return build


@pytest.fixture
async def transport(make: Callable[..., Transport]) -> AsyncIterator[Transport]:
    made = make()
    yield made
    await made.aclose()


def _post(url: str, body: bytes = b'{"Key": 1}') -> Request:
    return Request("POST", url, {"X-Amz-Target": "DynamoDB_20120810.GetItem"}, body)


def _answering(*answers: bytes, close: bool = False) -> Callable[[RawServer], Script]:
    """A script: read a request, write the next answer, for each answer; then close or wait."""

    def build(server: RawServer) -> Script:
        async def script(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
        ) -> None:
            for answer in answers:
                await server.read_request(reader)
                writer.write(answer)
                await writer.drain()
            if not close:
                await reader.read()  # keep the connection until the client closes it

        return script

    return build


async def _server(
    serve: Callable[..., Awaitable[RawServer]],
    build: Callable[[RawServer], Script],
    tls: ssl.SSLContext | None = None,
) -> RawServer:
    holder: list[RawServer] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await build(holder[0])(reader, writer, n)

    server = await serve(script, tls)
    holder.append(server)
    return server


async def test_transport_keeps_one_connection_alive_across_requests(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    server = await _server(serve, _answering(OK, OK, OK))
    for _ in range(3):
        response = await transport(_post(server.url()))
        assert (response.status, response.body) == (200, b"{}")
    assert server.connections == 1
    head = server.requests[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST / HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}" in head
    assert "Content-Length: 10" in head
    assert server.requests[0].endswith(b'{"Key": 1}')


async def test_transport_server_closing_an_idle_connection_is_met_on_a_fresh_one(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    # GIVEN a server that answers once per connection, then closes it after a moment
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(0.05)

    server = await serve(once)
    assert (await transport(_post(server.url()))).status == 200
    await asyncio.sleep(0.2)  # the server has closed the kept-alive connection
    assert (await transport(_post(server.url()))).status == 200
    assert server.connections == 2
    assert len(server.requests) == 2


async def test_transport_connection_closed_as_the_request_goes_out_is_retried_once(
    serve: Callable[..., Awaitable[RawServer]], make: Callable[..., Transport]
) -> None:
    # GIVEN a kept-alive connection the server drops on the next request, without answering
    # (the close raced the request, as when Lambda thawed a container)
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await server.read_request(reader)
        if n == 1:
            writer.write(OK)
            await writer.drain()
            await server.read_request(reader)  # the second request: dropped unanswered
            return
        writer.write(OK)
        await writer.drain()
        await reader.read()

    server = await serve(script)
    transport = make()
    try:
        await transport(_post(server.url()))
        assert (await transport(_post(server.url()))).status == 200
    finally:
        await transport.aclose()
    assert server.connections == 2
    assert len(server.requests) == 3  # asked once more, on the fresh connection


async def test_transport_fresh_connection_closed_unanswered_fails_without_retry(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.read_request(reader)

    server = await serve(drop)
    with pytest.raises(RequestFailed) as caught:
        await transport(_post(server.url()))
    assert isinstance(caught.value.inner, ConnectionResetError)
    assert server.connections == 1


async def test_transport_reads_a_chunked_body(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    chunked = (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
    )
    server = await _server(serve, _answering(chunked, OK))
    assert (await transport(_post(server.url()))).body == b'{"a": 1}'
    assert (await transport(_post(server.url()))).body == b"{}"
    assert server.connections == 1  # a chunked answer leaves the connection reusable


async def test_transport_reads_a_body_delimited_by_the_close(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    answer = b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"closed": true}'
    server = await _server(serve, _answering(answer, close=True))
    response = await transport(_post(server.url()))
    assert response.body == b'{"closed": true}'
    assert transport.connections == 0  # never pooled


async def test_transport_interim_answer_is_skipped(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    server = await _server(serve, _answering(b"HTTP/1.1 100 Continue\r\n\r\n" + OK))
    assert (await transport(_post(server.url()))).status == 200


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n{"Item": {"a', ResponseTruncated),
        (b"HTTP/1.1 200 OK\r\nContent-Le", ResponseTruncated),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", ResponseTruncated),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", MalformedResponse),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", MalformedResponse),
    ],
    ids=["body", "head", "chunk", "not_http", "bad_length"],
)
async def test_transport_cut_or_malformed_answer_fails(
    serve: Callable[..., Awaitable[RawServer]],
    transport: Transport,
    answer: bytes,
    error: type[Exception],
) -> None:
    server = await _server(serve, _answering(answer, close=True))
    with pytest.raises(RequestFailed) as caught:
        await transport(_post(server.url()))
    assert isinstance(caught.value.inner, error)
    assert transport.connections == 0


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"200\r\n"
        + b"x" * 512
        + b"\r\n"
        + b"300\r\n"
        + b"x" * 768
        + b"\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 2000,
    ],
    ids=["announced", "chunked", "close_delimited"],
)
async def test_transport_oversized_body_fails(
    serve: Callable[..., Awaitable[RawServer]], make: Callable[..., Transport], answer: bytes
) -> None:
    server = await _server(serve, _answering(answer, close=True))
    transport = make(max_body_bytes=1024)
    try:
        with pytest.raises(RequestFailed) as caught:
            await transport(_post(server.url()))
    finally:
        await transport.aclose()
    assert isinstance(caught.value.inner, ResponseTooLarge)


async def test_transport_cancelled_read_leaves_no_connection_in_the_pool(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    # GIVEN a server that stalls its first connection's answer, and answers the next one
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await server.read_request(reader)
        if n == 1:
            await asyncio.sleep(0.3)
            writer.write(OK)  # too late: nobody may read this as the next request's answer
            await writer.drain()
            await reader.read()
            return
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"fresh"')
        await writer.drain()
        await reader.read()

    server = await serve(script)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await transport(_post(server.url()))
    assert transport.connections == 0
    response = await transport(_post(server.url()))
    assert response.body == b'"fresh"'
    assert server.connections == 2


async def test_transport_stalled_tls_handshake_ends_at_the_deadline(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await reader.read()

    server = await serve(silent)  # plain TCP that never answers the ClientHello
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await transport(_post(server.url("https")))
    assert loop.time() - started < 1.0
    assert transport.connections == 0


async def test_transport_keeps_a_tls_connection_alive(
    serve: Callable[..., Awaitable[RawServer]], make: Callable[..., Transport], tmp_path: Path
) -> None:
    authority = throwaway_ca(tmp_path)
    server = await _server(serve, _answering(OK, OK), tls=server_context(authority))
    transport = make(_with_bundle(authority.ca))
    try:
        assert (await transport(_post(server.url("https")))).status == 200
        assert (await transport(_post(server.url("https")))).status == 200
    finally:
        await transport.aclose()
    assert server.connections == 1


async def test_transport_untrusted_certificate_fails_before_any_request(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport, tmp_path: Path
) -> None:
    authority = throwaway_ca(tmp_path)
    server = await _server(serve, _answering(OK), tls=server_context(authority))
    with pytest.raises(RequestFailed) as caught:
        await transport(_post(server.url("https")))
    assert isinstance(caught.value.inner, ssl.SSLCertVerificationError)
    assert server.requests == []


async def test_transport_refuses_a_header_with_a_line_break(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    server = await _server(serve, _answering(OK))
    request = Request("GET", server.url(), {"Authorization": "a\r\nX-Injected: 1"}, None)
    with pytest.raises(RequestFailed) as caught:
        await transport(request)
    assert isinstance(caught.value.inner, ValueError)
    assert server.requests == []


async def test_transport_refused_connection_fails(transport: Transport) -> None:
    with socket_closed_port() as port, pytest.raises(RequestFailed) as caught:
        await transport(_post(f"http://127.0.0.1:{port}/"))
    assert isinstance(caught.value.inner, ConnectionRefusedError)


async def test_transport_closed_refuses_requests(
    serve: Callable[..., Awaitable[RawServer]], make: Callable[..., Transport]
) -> None:
    server = await _server(serve, _answering(OK))
    transport = make()
    await transport(_post(server.url()))
    assert transport.connections == 1
    await transport.aclose()
    assert transport.connections == 0
    with pytest.raises(RequestFailed):
        await transport(_post(server.url()))


def test_transport_refuses_a_context_that_does_not_verify() -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    with pytest.raises(ValueError, match="verify"):
        Transport(context)


def test_tls_context_with_an_unloadable_bundle_is_a_config_error(tmp_path: Path) -> None:
    bundle = tmp_path / "broken.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="AWS_CA_BUNDLE"):
        tls_context(_with_bundle(bundle))


def _with_bundle(path: Path) -> Settings:
    return make_settings(AWS_CA_BUNDLE=str(path))


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 bound but not listening: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


async def test_transport_bytes_after_a_whole_answer_keep_the_answer_not_the_connection(
    serve: Callable[..., Awaitable[RawServer]], transport: Transport
) -> None:
    server = await _server(serve, _answering(OK + b"garbage after the answer\r\n\r\n", OK))
    assert (await transport(_post(server.url()))).body == b"{}"
    assert (await transport(_post(server.url()))).body == b"{}"
    assert server.connections == 2  # the first connection was not trusted again
