"""raincheck's framed IPC wire: the same runtime IPC calls as the HTTP contract, without HTTP.

Fast mode spends most of its wall time in IPC round trips (a Lambda's sleep is one, a shadow call one or
two), and the standard library's HTTP costs ~0.4 ms a round trip in parsing alone, against ~0.03 ms for a
length-prefixed frame on the same kept-alive socket. Neither end of this wire is user code: greengrasssdk
calls the same IPCClient methods whichever wire carries them, and faithful mode keeps HTTP.

A frame is an 8-byte header (meta length, body length; little-endian uint32), the meta as a UTF-8 JSON
object, then the body bytes. Standard library only: it is imported inside Lambda processes too.
"""

import json
import struct

HEADER = struct.Struct("<II")
MAX_META_BYTES = 1 << 20
MAX_BODY_BYTES = 64 << 20  # far above any Lambda payload; a bigger length is a broken stream


class FrameError(Exception):
    """The stream does not hold a well-formed frame (truncated, oversized or not a JSON object)."""


def encode_frame(meta, body=b""):
    encoded = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    return HEADER.pack(len(encoded), len(body)) + encoded + body


def read_frame(stream):
    """The next (meta, body) from a buffered binary stream; None when the stream ends between frames."""
    header = stream.read(HEADER.size)
    if not header:
        return None
    if len(header) < HEADER.size:
        raise FrameError("stream ended inside a frame header")
    meta_length, body_length = HEADER.unpack(header)
    if meta_length > MAX_META_BYTES or body_length > MAX_BODY_BYTES:
        raise FrameError(f"frame too large: meta {meta_length} bytes, body {body_length} bytes")
    data = stream.read(meta_length + body_length)
    if len(data) < meta_length + body_length:
        raise FrameError("stream ended inside a frame")
    try:
        meta = json.loads(data[:meta_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise FrameError(f"frame meta is not JSON: {error}") from None
    if not isinstance(meta, dict):
        raise FrameError("frame meta is not a JSON object")
    return meta, data[meta_length:]
