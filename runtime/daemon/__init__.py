"""The engine daemon: a Docker Engine API subset over a unix socket (``python -m runtime.daemon``)."""
