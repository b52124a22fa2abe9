"""The one check of a zip member before anything reads it, for data and checkpoint zips alike."""

from __future__ import annotations

import re
import stat
import zipfile


def unsafe_member(info: zipfile.ZipInfo) -> str | None:
    """Why a member must not be read, as the end of a sentence that names it, or None.

    Backslashes count as separators, as zips made on Windows use them: a member must not
    reach outside its archive by either, nor be a link, a special file or encrypted.
    """
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "leaves its folder with '..'"
    if stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is a symbolic link or special file"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None
