"""Reading and writing user-named files safely: one owner for the checks every path needs.

Reading: a path a user names may be a FIFO (reading blocks forever), a device (``/dev/zero`` never
ends) or a huge sparse file, so its type and size are checked first and it is read with a bound.
Writing: the destination is checked before any long work (a regular file or nothing, not one of the
inputs, in a folder we can write, with a name the file system takes); the bytes go to a temporary
file beside it that then replaces it atomically, keeping an existing file's permissions, and a
special file (``/dev/null``, a FIFO) is never replaced or written through.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from core.errors import StudioError

MIB = 1 << 20
GIB = 1 << 30


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def size_text(n: int) -> str:
    """A byte count as a person reads it: 1.5 GiB, 320 MiB, 12 KiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def open_regular(path: Path, what: str, error: type[StudioError] = StudioError) -> int:
    """A file descriptor of ``path`` opened for reading when it is a regular file: a FIFO (opening one would
    wait for a writer), a folder, a device or a socket is refused at once, with ``error``; ``what`` names the
    file in messages ("data file", "vectors file"). The caller closes it."""
    try:
        # O_NONBLOCK: opening a FIFO never waits for a writer; fstat then checks the very file opened
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error(f"{_cap(what)} {path} does not exist") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        raise error(f"Can't read {what} {path}: {getattr(e, 'strerror', None) or e}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{_cap(what)} {path} is {_kind(mode)}, not a file that can be read")
    return fd


def read_bounded(path: Path, limit: int, what: str, error: type[StudioError] = StudioError) -> bytes:
    """The bytes of the regular file ``path`` (``open_regular``), refusing anything over ``limit``.

    ``what`` names the file in messages ("data file", "model file"); ``error`` is the error type raised.
    The size is checked twice: ``st_size`` first (a 10 GB sparse file is refused without reading), then
    while reading (files under /proc say 0 bytes and may hold more).
    """
    fd = open_regular(path, what, error)
    try:
        st = os.fstat(fd)
        if st.st_size > limit:  # a 10 GB sparse file is refused without reading it
            raise error(f"{_cap(what)} {path} is {size_text(st.st_size)}; the most this app reads is "
                        f"{size_text(limit)}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise error(f"Can't read {what} {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(f"{_cap(what)} {path} holds more than {size_text(limit)}, the most this app reads")
    return data


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _temp_prefix(path: Path) -> str:
    """Short enough (150 bytes) that any name the file system takes gets a temporary beside it too."""
    return "." + os.fsencode(path.name)[:150].decode("utf-8", "ignore") + "."


def check_destination(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), what: str = "output",
                      error: type[StudioError] = StudioError) -> Path:
    """Check, before any work, that ``path`` can be written as a new or replaced regular file.

    Refuses: a folder or special file (device, FIFO, socket); one of the files ``inputs`` names; a
    folder that does not exist or can't be written; a name the file system refuses. Probes by creating
    (and removing) the very temporary file ``write_atomic`` will use, so a read-only or pseudo file
    system (/proc) and a name too long fail now, not after an hour of training.
    Returns the path to write (a symbolic link is followed to the file it names).
    """
    path = Path(path).expanduser()
    if path.name in ("", ".", ".."):
        raise error(f"{_cap(what)} {path} is not a file name")
    try:
        if path.is_symlink():  # realpath, not resolve(): a loop of links is an OSError below, not RuntimeError
            path = Path(os.path.realpath(path))
        st = path.stat()
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as e:  # a name too long, a loop of links, a folder we may not enter, a NUL
        raise error(f"Can't write {what} {path}: {getattr(e, 'strerror', None) or e}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        hint = "; give a file name such as model.safetensors" if stat.S_ISDIR(st.st_mode) else ""
        raise error(f"{_cap(what)} {path} is {_kind(st.st_mode)}; it would not be replaced{hint}")
    for given in inputs:
        source = Path(given).expanduser()
        if _same_file(path, source):
            raise error(f"{_cap(what)} {path} is also an input ({source}); writing it would destroy that input")
    parent = path.parent
    if not parent.is_dir():
        raise error(f"Can't write {what} {path}: folder {parent} does not exist")
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer: the probe decides
        name_max = 255
    if len(os.fsencode(path.name)) > name_max:
        raise error(f"Can't write {what} {path}: the name is longer than the {name_max} bytes this file system takes")
    try:
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=parent)
    except OSError as e:
        raise error(f"Can't write {what} {path}: {e.strerror or e}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def write_atomic(path: str | os.PathLike, data: bytes, inputs: Iterable[str | os.PathLike] = (),
                 what: str = "output", error: type[StudioError] = StudioError) -> Path:
    """Write ``data`` to ``path`` atomically: an interrupted write leaves any old file untouched.

    The file keeps an existing file's permission bits; a new one gets the usual ``0666 & ~umask``
    (``mkstemp`` alone would make it private, 0600).
    """
    path = check_destination(path, inputs, what, error)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise error(f"Can't write {what} {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise error(f"Can't write {what} {path}: {e.strerror or e}") from None
        raise
    return path


def umask() -> int:
    """The process's umask: from /proc on Linux (setting it to read it races with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def safe_file_name(name: str) -> str:
    """``name`` made safe for any file system: ``LSTM (2)`` -> ``LSTM_2``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"
