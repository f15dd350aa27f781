"""A minimal writer of Compound File Binary files ([MS-CFB], version 3).

It writes a new file from a tree of storages and streams; it never edits one.
That is all a VBA project (``xl/vbaProject.bin``) needs. Written by hand
because the maintained Python library for this format, olefile, reads and
edits existing files only (a stream keeps its size); the PyPI packages that
write the format are early releases with no established use. The output is
read back in the tests by olefile/oletools and by LibreOffice.

Layout of the file written (512-byte sectors, 64-byte mini sectors): the
header, then the mini stream (streams shorter than 4,096 bytes, in the root
entry's chain), the regular streams, the mini FAT, the directory and the FAT,
each a contiguous run of sectors. Up to 109 FAT sectors (about 7 MB) are
addressed from the header; larger files are refused.

Reference: [MS-CFB] Compound File Binary File Format, sections 2.2 (header),
2.3-2.5 (FAT, mini FAT, DIFAT), 2.6 (directory entries and their red-black
tree of siblings).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Union

__all__ = ["Tree", "write_compound_file"]

#: A storage: names mapped to streams (bytes) or to sub-storages.
Tree = Mapping[str, Union[bytes, "Tree"]]

_SECTOR = 512
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096
_FREESECT = 0xFFFFFFFF
_ENDOFCHAIN = 0xFFFFFFFE
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_BLACK = 1


def _sort_key(name: str) -> tuple[int, str]:
    """Sibling order: shorter names first, then by upper-cased name ([MS-CFB] 2.6.4)."""
    return len(name), name.upper()


class _Entry:
    def __init__(self, name: str, kind: int, data: bytes = b"") -> None:
        if not 0 < len(name) <= 31 or any(c in name for c in "/\\:!"):
            raise ValueError(f"compound file entry names have 1-31 characters and no "
                             f"/ \\ : !, got {name!r}")
        self.name, self.kind, self.data = name, kind, data
        self.left = self.right = self.child = _NOSTREAM
        self.start, self.size = _ENDOFCHAIN, 0


def _entries(tree: Tree) -> list[_Entry]:
    """Directory entries in id order (root first), with the sibling trees linked."""
    out = [_Entry("Root Entry", _ROOT)]

    def add(storage: Tree, parent: _Entry) -> None:
        children = []
        for name, value in storage.items():
            if isinstance(value, (bytes, bytearray)):
                entry = _Entry(name, _STREAM, bytes(value))
            else:
                entry = _Entry(name, _STORAGE)
            out.append(entry)
            children.append((entry, value))
        ids = {id(e): i for i, e in enumerate(out)}
        ordered = sorted(children, key=lambda ev: _sort_key(ev[0].name))
        keys = [_sort_key(e.name) for e, _ in ordered]
        if len(set(keys)) != len(keys):
            raise ValueError("two entries of one storage have the same name")

        def link(lo: int, hi: int) -> int:  # a balanced binary search tree, all black
            if lo >= hi:
                return _NOSTREAM
            mid = (lo + hi) // 2
            node = ordered[mid][0]
            node.left, node.right = link(lo, mid), link(mid + 1, hi)
            return ids[id(node)]

        parent.child = link(0, len(ordered))
        for entry, value in children:
            if entry.kind == _STORAGE:
                add(value, entry)  # type: ignore[arg-type]

    add(tree, out[0])
    return out


def _entry_bytes(e: _Entry | None) -> bytes:
    if e is None:  # an unused entry
        return b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, _NOSTREAM, _NOSTREAM,
                                        _NOSTREAM) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 \
            + struct.pack("<IQ", 0, 0)
    name = e.name.encode("utf-16-le") + b"\0\0"
    return (name.ljust(64, b"\0") + struct.pack("<HBBIII", len(name), e.kind, _BLACK, e.left,
                                                e.right, e.child)
            + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<IQ", e.start, e.size))


def _chain(fat: list[int], first: int, count: int) -> None:
    for i in range(count):
        fat[first + i] = first + i + 1 if i < count - 1 else _ENDOFCHAIN


def write_compound_file(tree: Tree) -> bytes:
    """The bytes of a compound file holding ``tree``.

    Parameters
    ----------
    tree : mapping
        Stream name -> bytes, or storage name -> mapping of the same kind.
        Names have 1 to 31 characters; siblings differ ignoring case.

    Returns
    -------
    bytes
        A version 3 compound file (512-byte sectors).

    Raises
    ------
    ValueError
        A name breaks the rules above, or the file would need more than 109
        FAT sectors.
    """
    entries = _entries(tree)
    streams = [e for e in entries if e.kind == _STREAM]
    small = [e for e in streams if len(e.data) < _MINI_CUTOFF]
    large = [e for e in streams if len(e.data) >= _MINI_CUTOFF]

    # the mini stream and its mini FAT
    mini = bytearray()
    minifat: list[int] = []
    for e in small:
        e.size = len(e.data)
        if not e.data:
            continue
        n = -(-len(e.data) // _MINI_SECTOR)
        e.start = len(minifat)
        minifat.extend(range(e.start + 1, e.start + n))
        minifat.append(_ENDOFCHAIN)
        mini += e.data.ljust(n * _MINI_SECTOR, b"\0")

    def sectors(n_bytes: int) -> int:
        return -(-n_bytes // _SECTOR)

    n_mini = sectors(len(mini))
    n_large = [sectors(len(e.data)) for e in large]
    n_minifat = sectors(len(minifat) * 4)
    n_dir = sectors(len(entries) * 128)
    used = n_mini + sum(n_large) + n_minifat + n_dir
    n_fat = 1
    while n_fat * (_SECTOR // 4) < used + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("the compound file is too large for this writer (109 FAT sectors)")

    fat = [_FREESECT] * (n_fat * (_SECTOR // 4))
    pos = 0
    root = entries[0]
    if n_mini:
        root.start, root.size = pos, len(mini)
        _chain(fat, pos, n_mini)
        pos += n_mini
    for e, n in zip(large, n_large, strict=True):
        e.start, e.size = pos, len(e.data)
        _chain(fat, pos, n)
        pos += n
    first_minifat = pos if n_minifat else _ENDOFCHAIN
    if n_minifat:
        _chain(fat, pos, n_minifat)
        pos += n_minifat
    first_dir = pos
    _chain(fat, pos, n_dir)
    pos += n_dir
    first_fat = pos
    for i in range(n_fat):
        fat[first_fat + i] = _FATSECT

    difat = [first_fat + i for i in range(n_fat)] + [_FREESECT] * (109 - n_fat)
    header = (_SIGNATURE + b"\0" * 16
              + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, n_fat, first_dir, 0, _MINI_CUTOFF, first_minifat,
                            n_minifat, _ENDOFCHAIN, 0)
              + struct.pack("<109I", *difat))
    assert len(header) == _SECTOR

    def padded(data: bytes | bytearray, n: int) -> bytes:
        return bytes(data).ljust(n * _SECTOR, b"\0")

    body = [header, padded(mini, n_mini)]
    body += [padded(e.data, n) for e, n in zip(large, n_large, strict=True)]
    if n_minifat:
        body.append(padded(struct.pack(f"<{len(minifat)}I", *minifat)
                           + struct.pack("<I", _FREESECT) * (n_minifat * 128 - len(minifat)),
                           n_minifat))
    directory = b"".join(_entry_bytes(e) for e in entries)
    directory += b"".join(_entry_bytes(None) for _ in range(n_dir * 4 - len(entries)))
    body.append(directory)
    body.append(struct.pack(f"<{len(fat)}I", *fat))
    return b"".join(body)
