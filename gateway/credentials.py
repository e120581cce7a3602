"""The broker password, read from `mqtt.password_file` (the gateway's and the tracker's alike)."""

from __future__ import annotations

import os
import stat


class CredentialsError(Exception):
    pass


def read_password(path: str) -> str:
    """The broker password, refusing a file others can read (it would leak to every local user)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CredentialsError(f"mqtt.password_file: cannot read {path}: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"mqtt.password_file: {path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it")
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip("\r\n")
