"""``.dockerignore``: which files of a build context are sent to the build.

Patterns as Docker reads them: one per line, ``#`` comments, surrounding blanks trimmed, paths cleaned (``./a``,
``/a`` and ``a/`` mean ``a``), ``*`` and ``?`` within one path element, ``[...]`` classes, ``**`` for any number of
elements, ``\\`` escapes, and ``!`` exceptions. The last matching pattern decides. A pattern that matches a
directory excludes everything below it, unless a later exception re-includes something there.
"""
from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IgnoreRules", "read_dockerignore", "walk_context"]


@dataclass(frozen=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool  # a "!" pattern: re-includes what it matches


def _clean(path: str) -> str:
    cleaned = posixpath.normpath("/" + path.strip()).lstrip("/")
    return "" if cleaned == "." else cleaned


def _translate(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")  # "**/" : zero or more whole elements
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.S)


class IgnoreRules:
    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            cleaned = _clean(line)
            if not cleaned:
                continue
            self.patterns.append(_Pattern(cleaned, _translate(cleaned), exclusion))
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    def ignored(self, path: str) -> bool:
        """Is the context-relative path (``a/b/c``) left out of the build?"""
        path = _clean(path)
        parents = _parents(path)
        result = False
        for pattern in self.patterns:
            hit = bool(pattern.regex.match(path)) or any(pattern.regex.match(p) for p in parents)
            if hit:
                result = not pattern.exclusion
        return result

    def may_include_below(self, directory: str) -> bool:
        """Could an exception re-include something under an ignored directory? (then walk into it)"""
        directory = _clean(directory)
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            text = pattern.text
            if text.startswith(directory + "/") or "**" in text or text.startswith("*"):
                return True
            prefix = text.split("/")[0]
            if _translate(prefix).match(directory.split("/")[0]):
                return True
        return False


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def read_dockerignore(context: Path, dockerfile: str | None = None) -> IgnoreRules:
    """``<Dockerfile>.dockerignore`` beside the Dockerfile wins over ``.dockerignore`` at the context root."""
    candidates = []
    if dockerfile:
        candidates.append(context / (dockerfile + ".dockerignore"))
    candidates.append(context / ".dockerignore")
    for candidate in candidates:
        if candidate.is_file():
            return IgnoreRules(candidate.read_text().splitlines())
    return IgnoreRules([])


def walk_context(context: Path, rules: IgnoreRules) -> Iterator[str]:
    """Context-relative paths (dirs and files, sorted, parents first) that the build may see."""
    def walk(rel: str) -> Iterator[str]:
        base = context / rel if rel else context
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except NotADirectoryError:
            return
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if rules.ignored(child):
                if is_dir and rules.has_exceptions and rules.may_include_below(child):
                    yield from walk(child)
                continue
            yield child
            if is_dir:
                yield from walk(child)
    yield from walk("")
