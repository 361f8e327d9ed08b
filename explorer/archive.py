"""Checking a zip archive a user gave (``.keras`` models, ``.npz`` datasets) before reading it.

:func:`check_zip` reads the end-of-central-directory record first (so an archive declaring a
million members is refused before ``zipfile`` builds a million entries), then checks every
member's name (relative, no ``..``, no drive, no duplicates), its declared uncompressed size
and its compression ratio, and the total. :func:`read_member` reads one member in chunks up to
a cap, whatever its header declares. Nothing is ever extracted to disk.
"""

from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from explorer.errors import DataError

MAX_NAME = 255
RATIO_FLOOR = 2**20  # members smaller than this are not ratio-checked


@dataclass(frozen=True)
class ZipLimits:
    """What an archive may declare."""

    members: int
    member_bytes: int
    total_bytes: int
    ratio: float


def short(value: object, n: int = 60) -> str:
    """``repr`` of a value's text, cut to ``n`` characters (for echoing user input in one line)."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:n] + "...") if len(text) > n else repr(text)


def entry_count(path: Path, what: str, kind: str) -> int:
    """Members declared in the end-of-central-directory record.

    Raises:
        DataError: no such record (not a zip, or truncated), or a multi-part / ZIP64 archive.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        tail_len = min(size, 22 + 65535)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise DataError(f"{what} is not {kind}; it may be truncated or of another type.")
    _sig, disk, cd_disk, _here, total, cd_size, _offset, _comment = struct.unpack("<IHHHHIIH", tail[at:at + 22])
    if disk or cd_disk or total == 0xFFFF or cd_size == 0xFFFFFFFF:
        raise DataError(f"{what} is a multi-part or ZIP64 archive; it should be a plain zip of a few members.")
    return total


def check_name(name: str, what: str) -> None:
    """Refuse member names that are absolute, climb out (``..``), name a drive or hold odd characters."""
    parts = name.replace("\\", "/").split("/")
    if (not name or len(name) > MAX_NAME or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name
            or ".." in parts or (len(parts[0]) == 2 and parts[0][1] == ":")):
        raise DataError(f"{what} has a member named {short(name)}, which points outside the archive; it is refused.")


def check_zip(path: str | os.PathLike, what: str, kind: str, limits: ZipLimits) -> zipfile.ZipFile:
    """Open an archive after checking what it declares.

    Args:
        path: the file.
        what: how messages name it (``"model file net.keras"``).
        kind: what it should be, for messages (``"a .keras archive (a .keras file is a zip)"``).
        limits: member count, sizes and ratio.

    Returns:
        The open ``ZipFile`` (close it).

    Raises:
        DataError: one sentence for the first problem found.
    """
    p = Path(path)
    count = entry_count(p, what, kind)
    if count > limits.members:
        raise DataError(f"{what} has {count:,} members; it should have a few (at most {limits.members}).")
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise DataError(f"{what} is a damaged archive ({short(str(exc), 80)}).") from None
    try:
        infos = zf.infolist()
        if len(infos) > limits.members:
            raise DataError(f"{what} has {len(infos):,} members; it should have a few (at most {limits.members}).")
        seen: set[str] = set()
        total = 0
        for info in infos:
            check_name(info.filename, what)
            if info.filename in seen:
                raise DataError(f"{what} has two members named {short(info.filename)}; it is refused.")
            seen.add(info.filename)
            if info.file_size > limits.member_bytes:
                raise DataError(
                    f"{what}: member {short(info.filename)} would inflate to {info.file_size / 2**20:,.0f} MB, "
                    f"over the {limits.member_bytes / 2**20:,.0f} MB limit.")
            if info.file_size > RATIO_FLOOR and info.file_size > limits.ratio * max(info.compress_size, 1):
                raise DataError(
                    f"{what}: member {short(info.filename)} inflates {info.file_size / max(info.compress_size, 1):,.0f} "
                    f"times ({info.compress_size:,} to {info.file_size:,} bytes), over the limit of {limits.ratio:g}; "
                    "it looks like a zip bomb.")
            total += info.file_size
        if total > limits.total_bytes:
            raise DataError(f"{what} would inflate to {total / 2**20:,.0f} MB in all, over the "
                            f"{limits.total_bytes / 2**20:,.0f} MB limit.")
    except BaseException:
        zf.close()
        raise
    return zf


def read_member(zf: zipfile.ZipFile, name: str, what: str, cap: int) -> bytes:
    """Read one member, in chunks, refusing it once it passes ``cap`` bytes (whatever its header says).

    Raises:
        DataError: over the cap, or damaged (bad CRC, truncated, unsupported compression).
    """
    chunks, got = [], 0
    try:
        with zf.open(name) as fh:
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
                if got > cap:
                    raise DataError(f"{what}: member {short(name)} inflates past the {cap / 2**20:,.0f} MB limit.")
                chunks.append(chunk)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{what} is a damaged archive ({short(' '.join(str(exc).split()), 80)}).") from None
    return b"".join(chunks)
