"""``python -m runtime.daemon [--config F] [--host unix://PATH] [--data-root DIR] [--debug]``: run the engine in
the foreground until SIGTERM or SIGINT. Containers keep running after the engine exits."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from runtime.engine_config import load_config, socket_path
from runtime.errors import Conflict, InvalidArgument

__all__ = ["main"]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runtime.daemon", description="the pycompose engine")
    parser.add_argument("--config", help="engine configuration file (default /etc/pycompose/engine.json)")
    parser.add_argument("--host", "-H", help="socket to listen on (unix://PATH)")
    parser.add_argument("--data-root", help="where the engine keeps its state (overrides the configuration)")
    parser.add_argument("--debug", action="store_true", help="log every request")
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from runtime.daemon.app import serve

    config = load_config(args.config, Path(args.data_root) if args.data_root else None)
    if args.data_root:
        from dataclasses import replace

        config = replace(config, data_root=Path(args.data_root))
    host = args.host or (config.hosts[0] if config.hosts else None)
    path = socket_path(host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    config.data_root.mkdir(parents=True, exist_ok=True)
    import fcntl

    lock = open(config.data_root / "engine.lock", "w")  # one engine per data root, held for our lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InvalidArgument(f"another engine is running on the data root {config.data_root}") from None
    pidfile = config.data_root / "engine.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    ready = asyncio.Event()
    settle = asyncio.create_task(_settle_heap(ready))
    try:
        await serve(config, path, ready=ready, stop=stop)
    finally:
        settle.cancel()
        try:
            pidfile.unlink()
        except FileNotFoundError:
            pass


def _raise_nofile() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit: each DNS scope holds 2 fds, each attach and port proxy more
    (the hard limit itself cannot grow without CAP_SYS_RESOURCE)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
        except (ValueError, OSError) as err:
            logging.getLogger(__name__).warning("could not raise the open files limit: %s", err)


async def _settle_heap(ready: asyncio.Event) -> None:
    """Once the engine listens: what start-up made (modules, routes, services) goes to the collector's permanent
    generation, so its collections walk only what requests made; and the youngest generation is collected every
    ``_GC_GEN0`` net allocations instead of 700 (a create+start allocates a few thousand objects, nearly all freed
    by reference counting: the default threshold ran several collections per container)."""
    import gc

    await ready.wait()
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_GEN0, *gc.get_threshold()[1:])


_GC_GEN0 = 20000


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    _raise_nofile()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_run(args))
    except (InvalidArgument, Conflict) as err:
        print(f"pycompose engine: {err}", file=sys.stderr)
        return 1
    except PermissionError as err:
        print(f"pycompose engine: {err.filename or ''}: permission denied (the engine runs as root)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
