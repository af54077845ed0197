"""INDIGO impact bond data: the GO Lab CSV export as tidy tables, and reference classes."""

from .export import (COLUMNS, CURRENCY_NAMES, SNAPSHOT_DIR, TABLES, ImportReport, IndigoTables, Parsed,
                     conform, from_frames, load, load_snapshot, main, normalise_currency, parse_date,
                     parse_number, read_export, reference_class, write_snapshot)

__all__ = ["COLUMNS", "CURRENCY_NAMES", "SNAPSHOT_DIR", "TABLES", "ImportReport", "IndigoTables", "Parsed",
           "conform", "from_frames", "load", "load_snapshot", "main", "normalise_currency", "parse_date",
           "parse_number", "read_export", "reference_class", "write_snapshot"]
