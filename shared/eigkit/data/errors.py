"""The single exception of the data layer: every refusal (bad file, unknown name, network, cache) raises
:class:`DataError`, part of the kit's error family (:mod:`eigkit.errors`)."""

from __future__ import annotations

from eigkit.errors import DataError

__all__ = ["DataError"]
