"""``pycompose publish [OPTIONS] REPOSITORY[:TAG]``: push the project's Compose files to a registry as an OCI
artifact (``application/vnd.docker.compose.project``), which ``-f oci://REPOSITORY:TAG`` runs anywhere.

Refusals and confirmations are those of ``compose.oci.checks``; ``-y`` answers yes to the confirmations
(a terminal is asked). Credentials come from ``pycompose login``'s store. With ``--dry-run`` the checks run
and the layers are listed, nothing is pushed."""
from __future__ import annotations

import sys
from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "publish"]


def register(app: typer.Typer) -> None:
    app.command("publish", help="Publish compose application.")(publish)


def publish(
    ctx: typer.Context,
    repository: Annotated[str, typer.Argument(metavar="REPOSITORY[:TAG]", show_default=False)],
    with_env: Annotated[bool, typer.Option("--with-env", help="Include environment variables in the published "
                                           "OCI artifact.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help='Assume "yes" as answer to all prompts.')] = False,
    resolve_image_digests: Annotated[bool, typer.Option("--resolve-image-digests",
                                                        help="Pin image tags to digests.")] = False,
    oci_version: Annotated[Optional[str], typer.Option("--oci-version", metavar="VERSION", help="OCI image/artifact specification "
                                                       "version (1.0 or 1.1; automatically determined by "
                                                       "default).")] = None,
) -> int:
    from pathlib import Path

    from compose.cli.output import print_warnings
    from compose.cli.version import version_string
    from compose.errors import UserError
    from compose.files import read_file
    from compose.oci.checks import raise_errors, review_project
    from compose.oci.publish import build_layers, choose_oci_version, push_artifact
    from compose.oci.publish import resolve_image_digests as pin_images
    from compose.oci.reference import parse_reference
    from compose.project import load_project
    from compose.yamlread import read_yaml

    opts = ctx.obj
    ref = parse_reference(repository)  # a bad reference fails before the project is loaded
    if ref.digest:
        raise UserError.single(f"{repository}: publish to a tag (REPOSITORY[:TAG]), not to a digest")
    choose_oci_version(ref, oci_version)
    options = opts.load_options()
    options.profiles = ["*"]  # the files carry every service: review them all, whatever profiles are active
    loaded = load_project(options)
    print_warnings(loaded.warnings)
    if "<stdin>" in loaded.load.files:
        raise UserError.single("cannot publish a Compose file read from stdin: name it with -f FILE")
    files = [Path(f) for f in loaded.load.files]
    raw = {str(f): read_yaml(read_file(str(f)).text, str(f)) for f in files}
    review = review_project(loaded.canonical, raw, loaded.load.project_dir, with_env)
    raise_errors(review)
    if review.confirm and not yes:
        _confirm(review.confirm)
    version = version_string()
    pinned = pin_images(loaded.canonical) if resolve_image_digests else None
    layers = build_layers(files, review.env_files, version, pinned)
    if opts.dry_run:
        for blob in layers:
            name = next(iter(blob.annotations.values()), "")
            print(f"DRY-RUN MODE - would publish {name} ({blob.media_type}, {blob.digest})", file=sys.stderr)
        return 0
    print(f"Publishing {ref} ({len(layers)} files)", file=sys.stderr)
    pushed, digest = push_artifact(repository, layers, oci_version, version)
    print(f"Published oci://{pushed}@{digest}")
    return 0


def _confirm(items: list[str]) -> None:
    from compose.errors import UserError

    listing = "".join(f"\n  - {item}" for item in items)
    question = ("the artifact would publish these declarations (not their content); make sure they expose "
                f"nothing sensitive and that a consumer's host can satisfy them:{listing}")
    if not sys.stdin.isatty():
        raise UserError.single(f"cannot publish without confirmation: {question}\npass -y/--yes to publish anyway")
    print(question, file=sys.stderr)
    answer = input("Publish them? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UserError.single("publish cancelled")
