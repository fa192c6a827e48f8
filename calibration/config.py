"""Explicit configuration: frozen dataclasses that round-trip through plain dicts (JSON) and
reject unknown keys by name."""

from __future__ import annotations

import dataclasses


class StrictConfig:
    """Mixin for frozen dataclasses. ``_kind`` names the thing in error messages."""

    _kind = "config"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls._kind} key(s) {unknown}; valid: {sorted(names)}")
        return cls(**d)
