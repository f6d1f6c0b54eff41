"""The ``pycompose`` command line. Each command lives in its own module and is imported lazily."""
from __future__ import annotations

import gc
import os
import sys
import threading

# Most commands are done within a second, and the cyclic collector would spend ~10 ms of that walking the
# freshly imported modules (80-odd collections, none finding garbage that matters). It stays off for the first
# seconds; a command still running then (logs -f, up attached, watch, events) gets it back, with everything
# made so far frozen out of its way. Only for the process's own command line (``argv`` None), never for a
# caller that runs commands in its own long-lived process.
_GC_AFTER = 2.0


def _gc_back_on() -> None:
    gc.freeze()
    gc.enable()


def main(argv: list[str] | None = None) -> int:
    from compose import trace  # first: its clock starts at import

    if argv is None and gc.isenabled():
        gc.disable()
        timer = threading.Timer(_GC_AFTER, _gc_back_on)
        timer.daemon = True
        timer.start()
    from compose.cli.app import run

    trace.mark("cli imported")
    code = run(sys.argv[1:] if argv is None else argv)
    trace.mark(f"exit {code}")
    if argv is None and not any(t.is_alive() and not t.daemon for t in threading.enumerate()
                                if t is not threading.main_thread()):
        _exit_now(code)  # with a thread still at work, the interpreter's shutdown waits for it, as always
    return code


def _exit_now(code: int) -> None:
    """The command is done (its ``finally`` blocks ran, its threads joined): flush our output and leave without
    the interpreter's teardown of 500-odd modules, idle pool threads and a last collection (~50 ms). Nothing of
    ours waits for ``atexit``: temporary files are anonymous, the engine keeps all state."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``) or a closed stream: nothing left to say
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
