"""What is at a path, in words, for messages that say what is wrong ("is a directory", not "no such file")."""

from __future__ import annotations

import os
import stat


def path_kind(path) -> str | None:
    """What is at ``path`` when it is not a regular file: 'a directory', 'a FIFO (named pipe)', 'a character
    device', ...; 'missing' when nothing is there; None for a regular file (symbolic links followed)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "under a path that is not a directory"
    except OSError as err:
        return f"not accessible ({err.strerror or err})"
    for test, what in ((stat.S_ISREG, None), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def not_a_file(path) -> str | None:
    """None if ``path`` is a regular file, else the reason in words ("no such file", "is a directory", ...)."""
    kind = path_kind(path)
    if kind is None:
        return None
    return "no such file" if kind == "missing" else f"is {kind}, not a file"
