"""Resolve ``user[:group]`` against a container's own /etc/passwd and /etc/group (never the host's).

Follows Docker: names or numeric ids; a numeric uid missing from passwd is used as is with gid 0 and home /;
supplementary groups are the groups in /etc/group that list the user. Only the standard library is imported.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ResolvedUser", "resolve_user"]


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    name: str


def _entries(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [line.split(":") for line in lines if line.strip() and not line.startswith("#")]


def _find(rows: list[list[str]], key: str, min_fields: int) -> list[str] | None:
    for row in rows:
        if len(row) < min_fields:
            continue
        if row[0] == key or (key.isdigit() and row[2].isdigit() and int(row[2]) == int(key)):
            return row
    return None


def resolve_user(spec: str, passwd: str = "/etc/passwd", group: str = "/etc/group",
                 extra_groups: tuple[str, ...] = ()) -> ResolvedUser:
    """Resolve ``spec`` (``""``, ``name``, ``uid``, ``name:group``, ``uid:gid``...) plus ``extra_groups`` (names or
    numbers, Docker's ``group_add``). Raises ``LookupError``."""
    user, _, grp = (spec or "0").partition(":")
    user = user or "0"
    pw = _find(_entries(passwd), user, 7)
    if pw is not None:
        uid, gid, home, name = int(pw[2]), int(pw[3]) if pw[3].isdigit() else 0, pw[5] or "/", pw[0]
    elif user.isdigit():
        uid, gid, home, name = int(user), 0, "/", user
    else:
        raise LookupError(f"unable to find user {user}: no matching entries in passwd file")
    groups_rows = _entries(group)
    if grp:
        gr = _find(groups_rows, grp, 3)
        if gr is not None:
            gid = int(gr[2])
        elif grp.isdigit():
            gid = int(grp)
        else:
            raise LookupError(f"unable to find group {grp}: no matching entries in group file")
    members = {int(r[2]) for r in groups_rows if len(r) >= 4 and r[2].isdigit() and name in r[3].split(",")}
    for wanted in extra_groups:
        row = _find(groups_rows, wanted, 3)
        if row is not None:
            members.add(int(row[2]))
        elif wanted.isdigit():
            members.add(int(wanted))
        else:
            raise LookupError(f"unable to find group {wanted}: no matching entries in group file")
    extra = tuple(sorted(members - {gid}))
    return ResolvedUser(uid=uid, gid=gid, groups=extra, home=home, name=name)
