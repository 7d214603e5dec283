"""Writing output files safely: never half-written, never clobbering what is not a file.

Used for the evidence report (plugin and ``merge``) and for the CLI's matrix documents.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import TYPE_CHECKING

from .model import ParityError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["atomic_write", "os_reason"]


def os_reason(exc: Exception) -> str:
    """``No such file or directory`` rather than ``[Errno 2] ...: 'path'``."""
    return getattr(exc, "strerror", None) or str(exc)


def _umask() -> int:
    # the only portable way to read the umask is to set it (and put it back at once)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | Iterable[bytes],
    *,
    what: str = "",
    mode: int | None = None,
) -> None:
    """Write ``data`` (bytes, or byte strings written in turn) to ``path``.

    - A symlink is followed: its target is written, the link stays.
    - A regular file (or a new one) is replaced atomically: the bytes go to a temporary
      file beside it, are flushed to disk and renamed into place, so readers see the old
      or the new file, never a partial one. On any failure the temporary file is removed
      and the old file is left untouched. Missing parent directories are created.
    - A FIFO or a character device (``/dev/stdout``, a named pipe) is written through.
    - Anything else (a directory, a socket, a block device) is refused.

    ``mode``: permission bits of the new file (default: those of the file it replaces,
    else what ``open`` would give: 0o666 less the umask). Errors are a ParityError naming
    ``path`` (and ``what``).
    """
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    name = os.fspath(path)
    failure = f"{name}: cannot write{f' {what}' if what else ''}"
    try:
        target = os.path.realpath(name)
        try:
            info: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode):
                with open(target, "wb") as fh:
                    fh.writelines(chunks)
                return
            raise ParityError(
                f"{failure}: it is not a regular file, FIFO or character device "
                "(a directory, socket or block device is never replaced)"
            )
        if mode is None:
            mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
        directory, base = os.path.split(target)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ParityError(f"{failure}: {os_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.writelines(chunks)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ParityError(f"{failure}: {os_reason(exc)}") from None
        raise
