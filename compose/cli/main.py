"""The ``pycompose`` command line. Each command lives in its own module and is imported lazily."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from compose.cli.app import run

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
