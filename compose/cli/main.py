"""The ``pycompose`` command line. Each command lives in its own module and is imported lazily."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from compose import trace  # first: its clock starts at import

    from compose.cli.app import run

    trace.mark("cli imported")
    code = run(sys.argv[1:] if argv is None else argv)
    trace.mark(f"exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
