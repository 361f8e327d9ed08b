"""A small persistent cache on disk: analyses and graphviz layouts survive a restart.

A restarted server (or a second CLI command) finds the graphs and drawings of architectures it
has seen before without importing Keras or running graphviz. Entries are opaque bytes (or a
pickled object) under ``<root>/<kind>-<version>/<key>``:

- ``root``: ``EXPLORER_CACHE_DIR``, else ``$XDG_CACHE_HOME/architecture-explorer``, else
  ``~/.cache/architecture-explorer``; ``EXPLORER_CACHE_DIR=off`` (or ``none``, ``0``) turns the
  cache off.
- ``version``: a hash of every ``explorer/**/*.py`` file's bytes, the installed Keras version (read
  from the package metadata: Keras is not imported), the Python version and what the caller adds
  (graphviz's ``dot -V`` for layouts). Any change of code or tools starts a new folder; the old
  folders of that kind are removed on first use.

Writes are atomic (a temporary file in the same folder, then ``os.replace``), so readers see a
whole entry or none. Every entry carries a checksum; a missing, truncated, corrupt or unreadable
entry, a read-only disk or an unwritable folder is a miss, never an error (a bad entry is
deleted when possible). Each kind keeps at most :data:`MAX_ENTRIES` entries and
:data:`MAX_BYTES` bytes; the least recently used (oldest modification time; a hit touches its
entry) go first.

Pickled entries are loaded with :mod:`pickle` and layouts are drawn into pages, so a version
folder is created private to the user (mode 0700) and read only while it is: owned by this
user, writable by no one else.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ENV = "EXPLORER_CACHE_DIR"
OFF = ("off", "none", "0", "false", "no")
MAX_ENTRIES = 2000  # per kind
MAX_BYTES = 512 * 2**20  # per kind
MAGIC = b"EXPLORER-CACHE-1\n"
_DIGEST = 32  # bytes of sha256 after the magic
_PACKAGE = Path(__file__).resolve().parent
_cleaned: set[Path] = set()  # version folders whose stale siblings were removed (once per process)
_cleaned_lock = threading.Lock()


def root() -> Path | None:
    """The cache's folder from the environment, or None when the cache is off."""
    raw = os.environ.get(ENV, "").strip()
    if raw.lower() in OFF:
        return None
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "architecture-explorer"


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """sha256 of every ``explorer/**/*.py`` file (path and bytes): any code change changes it."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        try:
            data = path.read_bytes()
        except OSError:
            data = b"?"
        h.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + data + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def keras_version() -> str:
    """The installed Keras version from its package metadata (Keras is not imported)."""
    from importlib import metadata

    try:
        return metadata.version("keras")
    except metadata.PackageNotFoundError:
        return "none"


def version(*extra: str) -> str:
    """The version folder's name part: code, Keras, Python and ``extra`` (e.g. ``dot -V``)."""
    parts = [source_hash(), keras_version(), sys.version, *extra]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def key_of(text: str) -> str:
    """A file name for any key text (its sha256)."""
    return hashlib.sha256(text.encode()).hexdigest()


def folder(kind: str, salt: tuple[str, ...] = (), base: Path | None = None) -> Path | None:
    """The version folder of ``kind`` (not created), or None when the cache is off."""
    base = root() if base is None else base
    if base is None:
        return None
    return base / f"{kind}-{version(*salt)}"


def _remove_stale(here: Path, kind: str) -> None:
    """Remove the other version folders of ``kind`` beside ``here`` (once per process)."""
    with _cleaned_lock:
        if here in _cleaned:
            return
        _cleaned.add(here)
    try:
        siblings = list(here.parent.iterdir())
    except OSError:
        return
    for p in siblings:
        if p != here and p.name.startswith(kind + "-") and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)


def get(kind: str, key: str, salt: tuple[str, ...] = (), *, base: Path | None = None) -> bytes | None:
    """The bytes stored under ``key``, or None (a miss: absent, damaged, unreadable, cache off).

    Args:
        kind: the entry's kind (``analysis``, ``layout``): its own folder and size bound.
        key: any text (hashed to a file name).
        salt: more version parts (tool versions the entry depends on).
        base: the cache root (default :func:`root`).
    """
    try:
        here = folder(kind, salt, base)
        if here is None:
            return None
        if not _private(here):  # entries are unpickled and drawn into pages: only our own
            return None
        _remove_stale(here, kind)
        path = here / key_of(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        head = len(MAGIC) + _DIGEST
        payload = blob[head:]
        if blob[:len(MAGIC)] != MAGIC or blob[len(MAGIC):head] != hashlib.sha256(payload).digest():
            _discard(path)
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return payload
    except Exception:  # the cache must never break what it speeds up
        return None


def put(kind: str, key: str, data: bytes, salt: tuple[str, ...] = (), *, base: Path | None = None) -> bool:
    """Store ``data`` under ``key`` atomically; returns False when it could not (never raises)."""
    tmp = None
    try:
        here = folder(kind, salt, base)
        if here is None:
            return False
        _remove_stale(here, kind)
        here.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=here, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(data).digest() + data)
        os.replace(tmp, here / key_of(key))
        tmp = None
        prune(here)
        return True
    except Exception:
        return False
    finally:
        if tmp is not None:
            _discard(Path(tmp))


def load(kind: str, key: str, salt: tuple[str, ...] = (), *, base: Path | None = None) -> Any | None:
    """The object pickled under ``key``, or None on any miss (a damaged entry is deleted)."""
    data = get(kind, key, salt, base=base)
    if data is None:
        return None
    try:
        return pickle.loads(data)
    except Exception:  # a class that moved or vanished: the entry is useless
        here = folder(kind, salt, base)
        if here is not None:
            _discard(here / key_of(key))
        return None


def save(kind: str, key: str, obj: Any, salt: tuple[str, ...] = (), *, base: Path | None = None) -> bool:
    """Pickle ``obj`` under ``key``; False when it could not (never raises)."""
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    return put(kind, key, data, salt, base=base)


def prune(here: Path, max_entries: int | None = None, max_bytes: int | None = None) -> None:
    """Drop the least recently used entries of one folder until both bounds hold."""
    max_entries = MAX_ENTRIES if max_entries is None else max_entries
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    entries = []
    try:
        with os.scandir(here) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, e.path, e.name.startswith(".tmp-")))
    except OSError:
        return
    stale = time.time() - 3600  # a temporary file this old is a crashed writer's
    for mtime, _, path, tmp in entries:
        if tmp and mtime < stale:
            _discard(Path(path))
    total = sum(size for _, size, _, tmp in entries if not tmp)
    count = sum(1 for *_, tmp in entries if not tmp)
    if count <= max_entries and total <= max_bytes:
        return
    for _, size, path, tmp in sorted(entries):
        if count <= max_entries and total <= max_bytes:
            break
        if tmp:  # another writer's file in flight: not ours to remove
            continue
        _discard(Path(path))
        count -= 1
        total -= size


def _private(here: Path) -> bool:
    """True when ``here`` is a folder of this user's that neither group nor others may write."""
    try:
        st = here.stat()
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return owner_ok and not st.st_mode & 0o022


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
