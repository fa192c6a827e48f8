"""Small file helpers shared by the file-format modules: atomic, no-clobber outputs."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from calibration.errors import OutputExistsError, SpectroError


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fail early, before any work, if ``path`` cannot be written as asked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; refusing to overwrite it (pass --overwrite to replace it)")
    if path.is_dir():
        raise SpectroError(f"{path} is a directory, expected a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SpectroError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise SpectroError(f"cannot write {path}: directory {parent} is not writable")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place atomically.

    Without ``overwrite`` the final step is a hard link, which fails if ``path`` appeared in
    the meantime, so an existing file is never replaced. On any error the temporary file is
    removed and ``path`` is untouched.
    """
    path = check_output(path, overwrite)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExistsError(f"{path} appeared while writing; refusing to overwrite it") from None
            except OSError:  # no hard links on this filesystem: best effort no-clobber
                if path.exists():
                    raise OutputExistsError(f"{path} appeared while writing; refusing to overwrite it") from None
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
