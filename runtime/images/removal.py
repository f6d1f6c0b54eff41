"""Image removal (``docker rmi``) and pruning (``docker image prune``), with Docker's rules and replies."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.errors import Conflict
from runtime.images.digest import short_id
from runtime.images.reference import parse_reference

if TYPE_CHECKING:
    from runtime.images.store import ImageStore

__all__ = ["remove_image", "prune_images"]


def remove_image(store: ImageStore, ref_or_id: str, *, force: bool = False) -> list[dict[str, str]]:
    """Untag a reference, and delete the image once no tag is left.

    Returns Docker's ``[{"Untagged": ...}, {"Deleted": ...}]``. Refuses with ``Conflict`` while a container uses
    the image (with ``force``: untags and keeps the image, dangling, as Docker does), or when an id names an image
    tagged in several repositories (unless ``force``).
    """
    with store.lock:
        image_id, ref = store.lookup(ref_or_id)
        refs = store.tags.refs_of(image_id)
        user = store.in_use(image_id)
        out: list[dict[str, str]] = []
        if ref is not None:
            named = str(ref)
            others = [r for r in refs if r != named and "@" not in r]
            if not others and user and not force:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{ref_or_id}" (must force) - '
                    f"container {_user_name(user)} is using its referenced image {short_id(image_id)}")
            if others or user:
                store.tags.delete(named)
                out.append({"Untagged": ref.familiar()})
                return out
        else:
            tagged = [r for r in refs if "@" not in r]
            if len({parse_reference(r).name for r in tagged}) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (must be forced) - "
                               "image is referenced in multiple repositories")
            if user and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (must be forced) - "
                               f"image is being used by container {_user_name(user)}")
        for r in store.tags.delete_image(image_id):
            out.append({"Untagged": parse_reference(r).familiar()})
        if user:
            return out  # forced while in use: untagged, kept (dangling) for the container
        out.append({"Deleted": image_id})
        store.delete_image(image_id)
        return out


def prune_images(store: ImageStore, *, dangling_only: bool = True) -> dict[str, Any]:
    """Delete unused images: dangling ones (no tag), or every unused one. Docker's prune report."""
    deleted: list[dict[str, str]] = []
    with store.lock:
        before = store.disk_usage()
        for image in store.list():
            # dangling = no reference at all; a digest reference (pulled by digest) keeps an image, as in Docker
            if (dangling_only and image.references) or store.in_use(image.id):
                continue
            for r in store.tags.delete_image(image.id):
                deleted.append({"Untagged": parse_reference(r).familiar()})
            store.delete_image(image.id)
            deleted.append({"Deleted": image.id})
        reclaimed = max(0, before - store.disk_usage()) if deleted else 0
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _user_name(user: object) -> str:
    return short_id(user) if isinstance(user, str) else "(unknown)"
