"""The engine daemon: a Docker Engine API subset over a unix socket (``python -m runtime.daemon``).

- ``server``     HTTP/1.1 on asyncio streams: keep-alive, chunked bodies both ways, Docker's hijack (101 Upgrade)
- ``router``     ``METHOD /v1.xx/path`` -> handler; ``errors`` the one table from typed errors to HTTP statuses
- ``app``        the ``Engine`` (config, events bus, services) and the route table; ``serve()`` runs it
- handlers, one module per resource: ``system`` (/_ping /version /info /system/df /events), ``containers``,
  ``container_io`` (logs, attach, resize), ``exec``, ``archive`` (cp, export, diff, commit), ``images``,
  ``networks``, ``volumes``
- ``supervisor`` the daemon's side of each container: create from an API body (``specconv``, ``bodycheck``,
  ``container_volumes``), exits watched through the monitors, restart policies, auto-remove, re-adoption;
  ``health_runner`` health checks; ``networking`` sandboxes, endpoints, ports, /etc/hosts and DNS scopes
- ``records`` the daemon's per-container records; ``events`` the bus; ``logs`` the json-file reader;
  ``stream`` the stdout/stderr frame codec
"""
