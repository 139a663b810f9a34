"""The single exception of the data layer: every refusal (bad file, unknown name, network, cache) raises
it."""

from __future__ import annotations


class DataError(ValueError):
    """A data file, a dataset name, a filter or a download was refused; the message says what to do next."""
