"""Writing output files safely: never half-written, never clobbering what is not a file.

Used for the evidence report (plugin and ``merge``) and for the CLI's matrix documents.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import IO, TYPE_CHECKING

from .model import ParityError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["atomic_output", "atomic_write", "os_reason", "output_kind"]


def os_reason(exc: Exception) -> str:
    """``No such file or directory`` rather than ``[Errno 2] ...: 'path'``."""
    return getattr(exc, "strerror", None) or str(exc)


def _umask() -> int:
    # the only portable way to read the umask is to set it (and put it back at once)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_kind(mode: int) -> bool:
    """What an output may be: a regular file (replaced), a FIFO or a character device
    (written through). Never a directory, socket or block device."""
    return stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, what: str = "", mode: int | None = None
) -> Iterator[IO[bytes]]:
    """A binary file to write ``path``'s new content to; it takes effect when the block ends.

    - A symlink is followed: its target is written, the link stays.
    - A regular file (or a new one) is replaced atomically: the bytes go to a temporary
      file beside it, are flushed to disk and renamed into place, so readers see the old
      or the new file, never a partial one. If the block raises, the temporary file is
      removed and the old file is left untouched. Missing parent directories are created.
    - A FIFO or a character device (``/dev/stdout``, a named pipe) is written through.
    - Anything else (a directory, a socket, a block device) is refused.

    ``mode``: permission bits of the new file (default: those of the file it replaces,
    else what ``open`` would give: 0o666 less the umask). Errors are a ParityError naming
    ``path`` (and ``what``).
    """
    name = os.fspath(path)
    failure = f"{name}: cannot write{f' {what}' if what else ''}"
    try:
        try:
            info: os.stat_result | None = os.stat(name)  # through a symlink
        except FileNotFoundError:  # a new file (or a dangling symlink's new target)
            info = None
        if info is not None and (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
            # opened by the name given: /dev/stdout resolves to a pipe's pseudo-path
            with open(name, "wb") as through:
                yield through
            return
        target = os.path.realpath(name)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ParityError(f"{failure}: {os_reason(exc)}") from None
    if info is not None and not output_kind(info.st_mode):
        raise ParityError(
            f"{failure}: it is not a regular file, FIFO or character device "
            "(a directory, socket or block device is never replaced)"
        )
    try:
        if mode is None:
            mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
        directory, base = os.path.split(target)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ParityError(f"{failure}: {os_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
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


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, what: str = "", mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` as :func:`atomic_output` does."""
    with atomic_output(path, what=what, mode=mode) as fh:
        fh.write(data)
