"""``.env`` files, with the dotenv syntax Docker Compose accepts.

``KEY=value`` (or ``KEY: value``), an optional ``export`` prefix, ``#`` comment lines and inline comments
(`` #`` after an unquoted value), single quotes (literal, may span lines), double quotes (escapes ``\\n \\t
\\r \\\\ \\" \\$``, may span lines), unquoted values trimmed. Unquoted and double-quoted values are
interpolated (``${VAR:-x}`` and friends) against the environment, then the variables defined above them.
A bare ``KEY`` takes its value from the environment (and is skipped when unset there).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from compose.errors import Location, UserError
from compose.interpolate import TemplateError, substitute

__all__ = ["parse_dotenv", "read_dotenv"]

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$$", "'": "'", "f": "\f", "b": "\b",
            "v": "\v", "a": "\a", "0": "\0"}


class _Parser:
    def __init__(self, text: str, filename: str, environment: Mapping[str, str]) -> None:
        self.text = text.replace("\r\n", "\n")
        self.filename = filename
        self.environment = environment
        self.pos = 0
        self.values: dict[str, str] = {}

    def location(self, pos: int | None = None) -> Location:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return Location(self.filename, line, col)

    def fail(self, message: str, pos: int | None = None) -> UserError:
        return UserError.single(message, location=self.location(pos))

    def lookup(self, name: str) -> str | None:
        # The process environment first: it wins over the file in the end, so references agree with it.
        value = self.environment.get(name)
        return value if value is not None else self.values.get(name)

    def expand(self, raw: str, start: int) -> str:
        try:
            return substitute(raw, self.lookup)
        except (TemplateError, ValueError) as err:
            raise self.fail(f"{err}", start) from None

    def skip_blank(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        out = self.text[self.pos:end]
        self.pos = end
        return out

    def parse(self) -> dict[str, str]:
        text = self.text
        while self.pos < len(text):
            self.skip_blank()
            if self.pos >= len(text):
                break
            if text[self.pos] == "\n":
                self.pos += 1
                continue
            if text[self.pos] == "#":
                self.rest_of_line()
                continue
            self.entry()
        return self.values

    def entry(self) -> None:
        start = self.pos
        if self.text.startswith("export", self.pos) and self.text[self.pos + 6:self.pos + 7] in (" ", "\t"):
            self.pos += 6
            self.skip_blank()
        match = _KEY.match(self.text, self.pos)
        if not match:
            bad = self.rest_of_line().strip()
            raise self.fail(f"invalid line {bad!r}: expected KEY=VALUE", start)
        key = match.group()
        self.pos = match.end()
        self.skip_blank()
        if self.pos >= len(self.text) or self.text[self.pos] in "\n#":
            self.rest_of_line()
            value = self.environment.get(key)  # bare KEY: pass the environment's value through
            if value is not None:
                self.values[key] = value
            return
        if self.text[self.pos] not in "=:":
            raise self.fail(f"unexpected character {self.text[self.pos]!r} after key {key!r}: expected '='")
        self.pos += 1
        self.skip_blank()
        self.values[key] = self.value()
        self.skip_blank()
        if self.pos < len(self.text) and self.text[self.pos] == "#":
            self.rest_of_line()
        elif self.pos < len(self.text) and self.text[self.pos] != "\n":
            raise self.fail(f"unexpected text after the quoted value of {key!r}")

    def value(self) -> str:
        text = self.text
        if self.pos >= len(text):
            return ""
        quote = text[self.pos]
        start = self.pos
        if quote == "'":
            end = text.find("'", self.pos + 1)
            if end < 0:
                raise self.fail("unterminated single-quoted value", start)
            self.pos = end + 1
            return text[start + 1:end]
        if quote == '"':
            out: list[str] = []
            i = self.pos + 1
            while True:
                if i >= len(text):
                    raise self.fail("unterminated double-quoted value", start)
                ch = text[i]
                if ch == '"':
                    break
                if ch == "\\" and i + 1 < len(text):
                    nxt = text[i + 1]
                    out.append(_ESCAPES.get(nxt, "\\" + nxt))
                    i += 2
                    continue
                out.append(ch)
                i += 1
            self.pos = i + 1
            return self.expand("".join(out), start)
        line = self.rest_of_line()
        comment = re.search(r"[ \t]#", line)
        if comment:
            line = line[:comment.start()]
        return self.expand(line.strip(), start)


def parse_dotenv(text: str, filename: str = ".env", environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables defined by ``text``, in file order. Errors name the file, line and column."""
    return _Parser(text, filename, environment or {}).parse()


def read_dotenv(path: Path, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """``parse_dotenv`` of a file; a missing or unreadable file is a ``UserError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError.single(f"env file {path} not found") from None
    except (OSError, UnicodeError) as err:
        raise UserError.single(f"cannot read env file {path}: {err}") from None
    return parse_dotenv(text, str(path), environment)
