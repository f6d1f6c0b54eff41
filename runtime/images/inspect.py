"""Docker-shaped views of an image: ``ImageInspect`` (GET /images/{name}/json), the ``/images/json`` summary
and ``/images/{name}/history`` entries. Plain dicts in the Engine API's PascalCase, ready to serialise."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from runtime.images.image import Image

__all__ = ["image_inspect", "image_summary", "image_history"]


def _config_view(section: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
                            "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
                            "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
                            "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}
    base.update(section)
    return base


def image_inspect(image: Image) -> dict[str, Any]:
    cfg = image.image_config
    out: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Parent": "",
        "Comment": cfg.get("comment", ""),
        "Created": cfg.get("created", ""),
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": _config_view(dict(cfg.get("config") or {})),
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": image.size,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {"LowerDir": ":".join(str(p) for p in reversed(image.layer_dirs()))} if image.layers else None,
        },
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": image.last_tag_time or "0001-01-01T00:00:00Z"},
    }
    if cfg.get("variant"):
        out["Variant"] = cfg["variant"]
    if cfg.get("os.version"):
        out["OsVersion"] = cfg["os.version"]
    return out


def layer_sharing(images: list[Image]) -> tuple[int, dict[str, int]]:
    """For ``GET /system/df``, as Docker's: the size of every layer some image uses, each counted once
    (``LayersSize``), and per image id the size of its layers that another image uses too (``SharedSize``)."""
    users: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for image in images:
        for layer in image.layers:
            users.setdefault(layer.chain_id, set()).add(image.id)
            sizes[layer.chain_id] = layer.size
    shared = {image.id: sum(sizes[c] for c in {layer.chain_id for layer in image.layers} if len(users[c]) > 1)
              for image in images}
    return sum(sizes.values()), shared


def image_summary(image: Image, containers: int = -1, shared_size: int = -1) -> dict[str, Any]:
    """One entry of ``GET /images/json`` (``shared_size``: -1 where not computed, as Docker's list)."""
    labels = (image.config.get("Labels") or {})
    return {
        "Id": image.id,
        "ParentId": "",
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Created": _epoch(image.created),
        "Size": image.size,
        "SharedSize": shared_size,
        "VirtualSize": image.size,
        "Labels": labels,
        "Containers": containers,
    }


def image_history(image: Image) -> list[dict[str, Any]]:
    """``GET /images/{name}/history``: newest first; the top entry carries the image id and tags."""
    entries = image.history or [{"created": image.created, "created_by": ""}]
    layers = list(image.layers)
    rows: list[dict[str, Any]] = []
    layer_index = 0
    for entry in entries:
        size = 0
        if not entry.get("empty_layer") and layer_index < len(layers):
            size = layers[layer_index].size
            layer_index += 1
        rows.append({"Id": "<missing>", "Created": _epoch(entry.get("created")),
                     "CreatedBy": entry.get("created_by", ""), "Tags": None, "Size": size,
                     "Comment": entry.get("comment", "")})
    rows.reverse()
    rows[0]["Id"] = image.id
    rows[0]["Tags"] = image.repo_tags or None
    return rows


def _epoch(created: str | None) -> int:
    if not created:
        return 0
    text = created.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        return int(datetime.fromisoformat(text + "+00:00").timestamp())
    except ValueError:
        return 0


