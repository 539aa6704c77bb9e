"""Message framing on the sandbox's sockets: 4-byte big-endian length, then JSON.

Used on the control channel (trusted side <-> runner server, which also passes file descriptors)
and on the candidate channel (trusted side <-> candidate process). ``FrameBuffer`` is the
non-blocking reader the trusted side uses; it refuses frames above a size cap, so a hostile
candidate cannot make the trusted side allocate without bound.
"""

from __future__ import annotations

import json
import socket
import struct

HEADER = struct.Struct(">I")
MAX_FDS = 8


class WireError(ConnectionError):
    """The peer closed the connection, or sent a frame that is malformed or too large."""


def pack(obj) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(body)) + body


def send(sock: socket.socket, obj, fds: list[int] | None = None) -> None:
    data = pack(obj)
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise WireError("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket, max_bytes: int = 1 << 26, with_fds: bool = False):
    """Blocking read of one frame; with ``with_fds`` returns ``(obj, fds)``."""
    fds: list[int] = []
    if with_fds:
        data, fds, _flags, _addr = socket.recv_fds(sock, HEADER.size, MAX_FDS)
        if not data:
            raise WireError("connection closed")
        if len(data) < HEADER.size:
            data += _recv_exact(sock, HEADER.size - len(data))
    else:
        data = _recv_exact(sock, HEADER.size)
    (size,) = HEADER.unpack(data)
    if size > max_bytes:
        raise WireError(f"frame of {size} bytes exceeds the cap of {max_bytes}")
    try:
        obj = json.loads(_recv_exact(sock, size))
    except (ValueError, RecursionError) as e:
        raise WireError(f"malformed frame: {str(e)[:100]}") from None
    return (obj, fds) if with_fds else obj


class FrameBuffer:
    """Accumulates bytes read from a non-blocking socket and splits them into frames."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def pending_size(self) -> int | None:
        """Size of the frame being received, once its header is in."""
        if len(self.buf) < HEADER.size:
            return None
        return HEADER.unpack_from(self.buf)[0]

    def pop(self):
        """Next complete frame's raw JSON bytes, or None. Raises WireError on an oversized frame."""
        size = self.pending_size()
        if size is None:
            return None
        if size > self.max_bytes:
            raise WireError(f"frame of {size} bytes exceeds the cap of {self.max_bytes}")
        end = HEADER.size + size
        if len(self.buf) < end:
            return None
        body = bytes(self.buf[HEADER.size:end])
        del self.buf[:end]
        return body
