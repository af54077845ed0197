"""Scenario schema and loading (the first layer: everything else reads a Scenario)."""

from .load import canonical_json, content_hash, dumps, load, loads, semantic_problems, to_dict, validate, with_params
from .model import PERIODS_PER_YEAR, Scenario

__all__ = [
    "PERIODS_PER_YEAR", "Scenario", "canonical_json", "content_hash", "dumps", "load", "loads",
    "semantic_problems", "to_dict", "validate", "with_params",
]
