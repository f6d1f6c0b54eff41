"""``develop.watch``: rules from the canonical config (``rules``), inotify events batched by a quiet period
(``watcher``), file sync into running containers over the archive API (``sync``) and the rebuild/restart/exec
actions (``actions``). ``compose/cli/watch.py`` ties them together."""

__all__: list[str] = []
