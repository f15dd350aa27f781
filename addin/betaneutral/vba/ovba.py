"""The VBA project's compression and the records of its ``dir`` stream ([MS-OVBA]).

* :func:`compress` / :func:`decompress`: the run-length/LZ77 scheme of
  [MS-OVBA] 2.4.1 (CompressedContainer of chunks of up to 4,096 bytes, each
  with a 2-byte header, flag bytes and copy tokens whose offset/length split
  depends on the position in the chunk).
* :func:`dir_records`: the ``dir`` stream's records as (id, payload), enough to
  find each module's stream and source offset ([MS-OVBA] 2.3.4.2).

Written by hand from the specification; :mod:`oletools.olevba`, an independent
reader, decompresses what :func:`compress` writes in the tests.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["compress", "decompress", "dir_records", "module_sources"]

_CHUNK = 4096
_SIGNATURE = 0x01


def _split(pos_in_chunk: int) -> int:
    """Bits of a copy token's offset at this decompressed position ([MS-OVBA] 2.4.1.3.19.1)."""
    bits = max((pos_in_chunk - 1).bit_length(), 4)
    return bits


def _compress_chunk(data: bytes) -> bytes:
    out = bytearray()
    n = len(data)
    pos = 0
    heads: dict[bytes, list[int]] = {}
    while pos < n:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= n:
                break
            bits = _split(pos)
            max_len = (0xFFFF >> bits) + 3
            max_off = 1 << bits
            best_len, best_off = 0, 0
            key = data[pos:pos + 3]
            if len(key) == 3:
                for cand in reversed(heads.get(key, ())[-64:]):
                    off = pos - cand
                    if off > max_off:
                        break
                    length = 3
                    limit = min(max_len, n - pos)
                    while length < limit and data[cand + length] == data[pos + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_off = length, off
                        if length == limit:
                            break
            step = best_len if best_len >= 3 else 1
            if best_len >= 3:
                flags |= 1 << bit
                out += struct.pack("<H", ((best_off - 1) << (16 - bits)) | (best_len - 3))
            else:
                out.append(data[pos])
            for p in range(pos, pos + step):
                if p + 3 <= n:
                    heads.setdefault(data[p:p + 3], []).append(p)
            pos += step
        out[flag_at] = flags
    return bytes(out)


def compress(data: bytes) -> bytes:
    """``data`` as an [MS-OVBA] CompressedContainer.

    Each 4,096-byte chunk is stored compressed, or raw when compression would
    not make it smaller (a raw chunk holds exactly 4,096 bytes, so the last,
    shorter chunk is always stored compressed).
    """
    out = bytearray([_SIGNATURE])
    for start in range(0, max(len(data), 1), _CHUNK):
        chunk = data[start:start + _CHUNK]
        if not chunk:
            break
        packed = _compress_chunk(chunk)
        if len(packed) > _CHUNK - 2 and len(chunk) == _CHUNK:  # incompressible: raw chunk
            out += struct.pack("<H", 0x3000 | (_CHUNK + 2 - 3)) + chunk
        else:
            out += struct.pack("<H", 0xB000 | (len(packed) + 2 - 3)) + packed
    return bytes(out)


def decompress(data: bytes) -> bytes:
    """The bytes of an [MS-OVBA] CompressedContainer.

    Raises
    ------
    ValueError
        The container is malformed.
    """
    if not data or data[0] != _SIGNATURE:
        raise ValueError("not a compressed VBA container (signature byte 0x01 missing)")
    out = bytearray()
    pos = 1
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated chunk header")
        header = struct.unpack_from("<H", data, pos)[0]
        size = (header & 0x0FFF) + 3
        if (header >> 12) & 0b111 != 0b011:
            raise ValueError("bad chunk signature")
        end = min(pos + size, len(data))
        pos += 2
        chunk_start = len(out)
        if not header & 0x8000:  # raw chunk
            out += data[pos:pos + _CHUNK]
            pos += _CHUNK
            continue
        while pos < end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags >> bit & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                token = struct.unpack_from("<H", data, pos)[0]
                pos += 2
                bits = _split(len(out) - chunk_start)
                length = (token & (0xFFFF >> bits)) + 3
                offset = (token >> (16 - bits)) + 1
                if offset > len(out) - chunk_start:
                    raise ValueError("copy token points before the chunk")
                for _ in range(length):
                    out.append(out[-offset])
    return bytes(out)


def dir_records(dir_stream: bytes) -> Iterator[tuple[int, bytes]]:
    """(record id, payload) of a decompressed ``dir`` stream, in order.

    Every record is an id (2 bytes), a size (4 bytes) and the payload, except
    PROJECTVERSION (0x0009), whose size field is 4 but whose payload is 6
    bytes. The second halves of the paired records (0x003C, 0x003D, 0x003E,
    0x0040, 0x0032, 0x0048, ...) come out as records of their own.
    """
    pos = 0
    while pos + 6 <= len(dir_stream):
        rid, size = struct.unpack_from("<HI", dir_stream, pos)
        pos += 6
        if rid == 0x0009:
            size = 6
        yield rid, dir_stream[pos:pos + size]
        pos += size
        if rid == 0x0010:  # dir terminator
            return


def module_sources(vba_storage: dict[str, bytes], codepage: str = "cp1252") -> dict[str, str]:
    """Module name -> source text of a VBA storage (``dir`` and the module streams).

    ``vba_storage`` maps stream names of the ``VBA`` storage to their bytes.
    """
    out: dict[str, str] = {}
    name = stream = None
    for rid, payload in dir_records(decompress(vba_storage["dir"])):
        if rid == 0x0019:
            name = payload.decode(codepage)
        elif rid == 0x001A:
            stream = payload.decode(codepage)
        elif rid == 0x0031 and name is not None and stream is not None:
            offset = struct.unpack("<I", payload)[0]
            out[name] = decompress(vba_storage[stream][offset:]).decode(codepage)
            name = stream = None
    return out
