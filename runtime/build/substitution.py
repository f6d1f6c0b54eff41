"""Dockerfile variable substitution and shell-word processing.

The rules of Dockerfiles (not of POSIX sh): ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR-word}``,
``${VAR:+word}``, ``${VAR+word}``, ``${VAR:?msg}``, ``${VAR?msg}``, prefix/suffix removal (``#``, ``##``, ``%``,
``%%``) and replacement (``/``, ``//``) with glob patterns. The escape character (``\\`` or a backtick, from the
``# escape=`` directive) makes the next character literal; single quotes are literal; double quotes keep spaces and
allow expansion. Unset variables expand to the empty string.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping

__all__ = ["SubstitutionError", "expand_word", "expand_words", "split_words"]


class SubstitutionError(ValueError):
    """A ``${VAR?msg}`` for an unset variable, or a malformed ``${...}``."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str] | None, escape: str, remove_quotes: bool = True) -> None:
        self.text = text
        self.env = env
        self.escape = escape
        self.pos = 0
        self.remove_quotes = remove_quotes

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        ch = self._peek()
        self.pos += 1
        return ch

    def words(self) -> list[str]:
        """Split into words at unquoted whitespace, expanding variables when an env is given."""
        words: list[str] = []
        current: list[str] = []
        in_word = False
        while self.pos < len(self.text):
            ch = self._peek()
            if ch.isspace():
                self.pos += 1
                if in_word:
                    words.append("".join(current))
                    current, in_word = [], False
                continue
            in_word = True
            current.append(self._token())
        if in_word:
            words.append("".join(current))
        return words

    def word(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            out.append(self._token())
        return "".join(out)

    def _token(self) -> str:
        ch = self._next()
        if ch == self.escape:
            nxt = self._next()
            if not nxt:
                return ch
            return nxt if self.remove_quotes else ch + nxt
        if ch == "'":
            return self._single_quoted()
        if ch == '"':
            return self._double_quoted()
        if ch == "$" and self.env is not None:
            return self._dollar()
        return ch

    def _single_quoted(self) -> str:
        end = self.text.find("'", self.pos)
        if end < 0:
            raise SubstitutionError(f"unexpected end of input, missing closing ' in {self.text!r}")
        body = self.text[self.pos:end]
        self.pos = end + 1
        return body if self.remove_quotes else f"'{body}'"

    def _double_quoted(self) -> str:
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise SubstitutionError(f'unexpected end of input, missing closing " in {self.text!r}')
            ch = self._next()
            if ch == '"':
                break
            if ch == self.escape and self._peek() in ('"', "$", self.escape):
                nxt = self._next()
                out.append(nxt if self.remove_quotes else ch + nxt)
            elif ch == "$" and self.env is not None:
                out.append(self._dollar())
            else:
                out.append(ch)
        body = "".join(out)
        return body if self.remove_quotes else f'"{body}"'

    def _dollar(self) -> str:
        ch = self._peek()
        if ch == "{":
            self.pos += 1
            return self._braced()
        match = _NAME.match(self.text, self.pos)
        if not match:
            return "$"
        self.pos = match.end()
        return self._lookup(match.group()) or ""

    def _lookup(self, name: str) -> str | None:
        assert self.env is not None
        return self.env.get(name)

    def _braced(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise SubstitutionError(f"invalid variable reference in {self.text!r}")
        name = match.group()
        self.pos = match.end()
        value = self._lookup(name)
        op = self._peek()
        if op == "}":
            self.pos += 1
            return value or ""
        if op == ":":
            self.pos += 1
            op = ":" + self._next()
        else:
            self.pos += 1
            if op in "#%/" and self._peek() == op:
                self.pos += 1
                op *= 2
        word = self._until_brace()
        if op in (":-", "-"):
            unset = value is None or (op == ":-" and value == "")
            return word if unset else (value or "")
        if op in (":+", "+"):
            isset = value is not None and (op == "+" or value != "")
            return word if isset else ""
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        subject = value or ""
        if op in ("#", "##"):
            return _remove_prefix(subject, word, greedy=op == "##")
        if op in ("%", "%%"):
            return _remove_suffix(subject, word, greedy=op == "%%")
        if op in ("/", "//"):
            pattern, _, repl = word.partition("/")
            return _replace(subject, pattern, repl, everywhere=op == "//")
        raise SubstitutionError(f"unsupported modifier {op!r} in ${{{name}...}}")

    def _until_brace(self) -> str:
        """The word inside ``${VAR<op>word}``: itself expanded, nested braces allowed."""
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise SubstitutionError(f"missing '}}' in {self.text!r}")
            ch = self._peek()
            if ch == "}":
                self.pos += 1
                return "".join(out)
            out.append(self._token())


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern).removesuffix(r"\Z").removeprefix("(?s:").removesuffix(")"), re.S)


def _remove_prefix(subject: str, pattern: str, greedy: bool) -> str:
    rx = _glob(pattern)
    ends = range(len(subject), -1, -1) if greedy else range(0, len(subject) + 1)
    for end in ends:
        if rx.fullmatch(subject[:end]):
            return subject[end:]
    return subject


def _remove_suffix(subject: str, pattern: str, greedy: bool) -> str:
    rx = _glob(pattern)
    starts = range(0, len(subject) + 1) if greedy else range(len(subject), -1, -1)
    for start in starts:
        if rx.fullmatch(subject[start:]):
            return subject[:start]
    return subject


def _replace(subject: str, pattern: str, repl: str, everywhere: bool) -> str:
    if not pattern:
        return subject
    rx = _glob(pattern)
    out: list[str] = []
    i = 0
    replaced = False
    while i <= len(subject):
        if not (replaced and not everywhere):
            for end in range(len(subject), i, -1):  # longest match, as the shell does
                if rx.fullmatch(subject[i:end]):
                    out.append(repl)
                    i = end
                    replaced = True
                    break
            else:
                if i < len(subject):
                    out.append(subject[i])
                i += 1
                continue
            continue
        out.append(subject[i:])
        break
    return "".join(out)


def expand_word(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables and remove quotes in one word (spaces are kept)."""
    return _Lexer(text, env, escape).word()


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Split at unquoted whitespace, expanding variables and removing quotes in each word."""
    return _Lexer(text, env, escape).words()


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split at unquoted whitespace, keeping quotes, escapes and ``$`` references as written."""
    return _Lexer(text, None, escape, remove_quotes=False).words()
