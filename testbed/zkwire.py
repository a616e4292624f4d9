"""ZooKeeper's client wire format, as far as the fault proxy reads it.

A client's stream is packets, each a big-endian int32 length and then that many bytes;
after the session handshake, a request starts with its xid and opcode, a reply with its
xid, zxid and error code (ZooKeeper's jute records). ``Frames`` cuts a stream into
packets; the functions read what a trap needs from one packet: the path of a create,
the paths a multi's operations name, a reply's xid, the path a create's reply names.
Each returns None for a packet it cannot read, never raises on one.
"""

from __future__ import annotations

import struct

# ZooKeeper opcodes that create a node: create, create2, createContainer, createTTL.
CREATE_OPCODES = frozenset({1, 15, 19, 21})
_MAX_FRAME = 1 << 24  # larger than any sane ZooKeeper packet: the stream is not framed


class Frames:
    """Cuts a byte stream into ZooKeeper packets: a big-endian int32 length, then that many.

    ``feed`` returns ``(packet, parse)`` pairs, each packet with its length prefix;
    ``parse`` is False for the stream's first packet (the session handshake, which has
    no xid) and for bytes that are not ZooKeeper's: a length out of range marks the
    stream as unframed, and from then on ``feed`` hands back what it gets.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._seen = 0  # packets returned so far
        self.broken = False

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        if self.broken:
            return [(data, False)]
        self._buffer += data
        packets = []
        while len(self._buffer) >= 4:
            (length,) = struct.unpack_from(">i", self._buffer)
            if not 0 <= length <= _MAX_FRAME:
                self.broken = True
                packets.append((self._buffer, False))
                self._buffer = b""
                break
            if len(self._buffer) < 4 + length:
                break
            packets.append((self._buffer[: 4 + length], self._seen > 0))
            self._seen += 1
            self._buffer = self._buffer[4 + length :]
        return packets


def _string_at(packet: bytes, offset: int) -> str | None:
    """A ZooKeeper ustring (int32 length, UTF-8 bytes) at ``offset``, or None."""
    if len(packet) < offset + 4:
        return None
    (length,) = struct.unpack_from(">i", packet, offset)
    if length < 0 or len(packet) < offset + 4 + length:
        return None
    return packet[offset + 4 : offset + 4 + length].decode("utf-8", "replace")


def create_request(packet: bytes) -> tuple[int, str] | None:
    """(xid, path) if ``packet`` (length prefix included) is a create request, else None."""
    if len(packet) < 12:
        return None
    xid, opcode = struct.unpack_from(">ii", packet, 4)
    if opcode not in CREATE_OPCODES:
        return None
    path = _string_at(packet, 12)
    return None if path is None else (xid, path)


# A multi's operations that name a path, and what follows the path in each
# (ZooKeeper's jute records): the version (check, delete), data and version (setData),
# data, ACLs and flags (the creates; createTTL adds the TTL).
MULTI_OPCODE = 14
_CHECK, _DELETE, _SET_DATA = 13, 2, 5


def _skip_buffer(packet: bytes, offset: int) -> int | None:
    """The offset after a jute buffer (int32 length, -1 for null, then bytes)."""
    if len(packet) < offset + 4:
        return None
    (length,) = struct.unpack_from(">i", packet, offset)
    end = offset + 4 + max(length, 0)
    return end if end <= len(packet) else None


def _after_op(packet: bytes, kind: int, offset: int) -> int | None:
    """The offset after a multi operation's request whose path ended at ``offset``."""
    if kind in (_CHECK, _DELETE):
        return offset + 4
    if kind == _SET_DATA:
        end = _skip_buffer(packet, offset)
        return None if end is None else end + 4
    if kind in CREATE_OPCODES:
        end = _skip_buffer(packet, offset)
        if end is None or len(packet) < end + 4:
            return None
        (acls,) = struct.unpack_from(">i", packet, end)
        end += 4
        for _ in range(max(acls, 0)):
            end += 4  # perms
            for _part in ("scheme", "id"):
                if _string_at(packet, end) is None:
                    return None
                end += 4 + struct.unpack_from(">i", packet, end)[0]
        return end + 4 + (8 if kind == 21 else 0)  # flags (and the TTL)
    return None


def request_paths(packet: bytes) -> tuple[int, list[str]] | None:
    """(xid, paths) if ``packet`` is a create, or a multi with at least one operation
    that names a path (its paths in order, as far as they parse); else None."""
    if len(packet) < 12:
        return None
    xid, opcode = struct.unpack_from(">ii", packet, 4)
    if opcode in CREATE_OPCODES:
        path = _string_at(packet, 12)
        return None if path is None else (xid, [path])
    if opcode != MULTI_OPCODE:
        return None
    paths: list[str] = []
    offset = 12
    while len(packet) >= offset + 9:
        kind, done = struct.unpack_from(">i?", packet, offset)
        offset += 9  # type, done, err
        path = None if done else _string_at(packet, offset)
        if path is None:
            break
        paths.append(path)
        after = _after_op(packet, kind, offset + 4 + len(path.encode()))
        if after is None:
            break
        offset = after
    return (xid, paths) if paths else None


def reply_xid(packet: bytes) -> int | None:
    """The xid of a reply packet (xid, zxid, err, body), or None if too short."""
    return struct.unpack_from(">i", packet, 4)[0] if len(packet) >= 20 else None


def created_path(packet: bytes) -> str | None:
    """The path a successful create reply names (err 0, then the path), else None."""
    if len(packet) < 20 or struct.unpack_from(">i", packet, 16)[0] != 0:
        return None
    return _string_at(packet, 20)
