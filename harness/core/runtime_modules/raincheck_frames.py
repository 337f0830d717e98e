"""raincheck's framed IPC wire: the same runtime IPC calls as the HTTP contract, without HTTP.

Fast mode spends most of its wall time in IPC round trips (a Lambda's sleep is one, a shadow call one),
and the standard library's HTTP costs ~0.3 ms a round trip in parsing alone, against ~0.1 ms for a
length-prefixed frame on the same kept-alive socket. Neither end of this wire is user code: greengrasssdk
calls the same IPCClient methods whichever wire carries them, and faithful mode keeps HTTP.

A frame is an 8-byte header (meta length, body length; little-endian uint32), the meta, then the body
bytes. The meta is text fields, `key NUL value NUL key NUL value` in UTF-8: every value on this wire is an
ARN, a token, an id, base64 or a number, none of which holds a NUL, and splitting on one costs a fraction of
JSON's parse (measured: JSON was a third of a round trip). Standard library only: it is imported inside
Lambda processes too.
"""

import struct

HEADER = struct.Struct("<II")
MAX_META_BYTES = 1 << 20
MAX_BODY_BYTES = 64 << 20  # far above any Lambda payload; a bigger length is a broken stream


class FrameError(Exception):
    """The stream does not hold a well-formed frame (truncated, oversized or unreadable meta)."""


def encode_frame(meta, body=b""):
    """A frame of `meta` (str keys and values, no NUL in either) and `body` (bytes)."""
    encoded = "\0".join(f"{key}\0{value}" for key, value in meta.items()).encode("utf-8")
    if encoded.count(b"\0") != max(0, 2 * len(meta) - 1):
        raise FrameError(f"a frame field holds a NUL: {sorted(meta)}")
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
    if not meta_length:
        return {}, data
    try:
        fields = data[:meta_length].decode("utf-8").split("\0")
    except UnicodeDecodeError as error:
        raise FrameError(f"frame meta is not UTF-8: {error}") from None
    if len(fields) % 2:
        raise FrameError("frame meta is not key/value pairs")
    return dict(zip(fields[::2], fields[1::2], strict=True)), data[meta_length:]
