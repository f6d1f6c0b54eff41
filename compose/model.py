"""The typed, normalized Compose model: frozen dataclasses built from a canonical dict."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Project", "Service", "Network", "Volume", "Secret", "Config"]


@dataclass(frozen=True)
class Service:
    name: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    name: str


@dataclass(frozen=True)
class Volume:
    name: str


@dataclass(frozen=True)
class Secret:
    name: str


@dataclass(frozen=True)
class Config:
    name: str


@dataclass(frozen=True)
class Project:
    name: str
    services: dict[str, Service] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    configs: dict[str, Config] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, canonical: dict[str, Any], name: str) -> "Project":
        """Build the model from ``canonicalize()`` output."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict again (``Project.from_dict(d, n).to_dict() == d`` plus ``name``)."""
        raise NotImplementedError
