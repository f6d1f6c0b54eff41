"""The global command-line options, shared by every command through the typer context."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.loader import LoadOptions

__all__ = ["GlobalOptions"]


@dataclass
class GlobalOptions:
    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    progress: str | None = None  # auto|tty|plain|json|quiet (compose.display)
    dry_run: bool = False  # --dry-run: plans are shown as "DRY-RUN MODE - " events, nothing is changed
    all_resources: bool = False  # --all-resources: also networks and volumes no service uses

    def load_options(self, *, services: list[str] | None = None, interpolate: bool = True) -> "LoadOptions":
        from compose.loader import LoadOptions

        return LoadOptions(
            files=list(self.files),
            project_name=self.project_name,
            project_directory=self.project_directory,
            env_files=list(self.env_files),
            profiles=list(self.profiles),
            services=list(services or []),
            interpolate=interpolate,
        )
