"""``--format`` as the docker CLI reads it for listings: ``table`` (the command's default columns), ``json``
(one object a line), or a Go-style template of ``{{.Field}}`` and ``{{json .Field}}``/``{{json .}}``,
``table``-prefixed for a header line and aligned columns. Other Go template functions are not known."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping

__all__ = ["render_rows"]

_FIELD = re.compile(r"\{\{\s*(json\s+)?\.(\w*)\s*\}\}")


def render_rows(fmt: str, rows: list[dict[str, str]], headers: Mapping[str, str], default: str) -> str:
    """The text of ``rows`` for ``fmt`` (``default`` is the ``table`` template); an unknown field is a
    ``UserError`` naming the known ones (the keys of ``headers``)."""
    from compose.cli.ps import table
    from compose.errors import UserError

    template = default if fmt in ("", "table") else fmt
    if template == "json":
        return "".join(json.dumps(r) + "\n" for r in rows)
    for m in _FIELD.finditer(template):
        if m.group(2) and m.group(2) not in headers:
            raise UserError.single(f"--format: no field {m.group(2)!r} (fields: {', '.join(headers)})")
    is_table = template.startswith("table")
    if is_table:
        template = template[len("table"):].lstrip(" ")
    template = template.replace("\\t", "\t").replace("\\n", "\n")

    def fill(row: dict[str, str] | None) -> str:
        def one(m: re.Match[str]) -> str:
            key = m.group(2)
            if row is None:
                return headers.get(key, key.upper())
            if not key:
                return json.dumps(row)
            return json.dumps(row[key]) if m.group(1) else row[key]

        return _FIELD.sub(one, template)

    if not is_table:
        return "".join(fill(r) + "\n" for r in rows)
    lines = [fill(None)] + [fill(r) for r in rows]
    return table([line.split("\t") for line in lines])
