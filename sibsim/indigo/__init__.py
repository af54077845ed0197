"""INDIGO impact bond data: the GO Lab CSV export as tidy tables, and reference classes.

INDIGO (International Network for Data on Impact and Government Outcomes) is
published as open data by the Government Outcomes Lab, University of Oxford:
https://golab.bsg.ox.ac.uk/knowledge-bank/indigo/ . Attribute GO Lab / INDIGO
wherever these numbers are shown.

The export has one CSV per data type with headers ``Section - Field - (Value)``.
Numeric fields hold free text now and then (``"C$1.16M (estimate)"``,
``"=D41-D36"``, ``"303 children and their families"``). :func:`parse_number`
reads a number only when one reading is clear, and otherwise returns NaN with
a reason; :class:`ImportReport` counts the reasons. Nothing is guessed: ranges,
revised values, several numbers in one cell, European ``290.000`` and formulas
are skipped and counted.

Five tidy tables (columns and dtypes in :data:`COLUMNS`):

- ``projects``: one row per impact bond; money in local currency and USD;
  ``duration_years``; ``participants`` (targeted service users, else those
  actually engaged); median rate-card price per outcome.
- ``rate_cards``: one row per priced outcome metric.
- ``investments``: one row per investor commitment.
- ``outcome_payments``: actual payments and the *latest* payment plan only;
  revised plans restate the same payments, so summing across plans would
  double count.
- ``results``: reported results per outcome metric.

``python -m sibsim.indigo build-snapshot SRC_DIR DEST_DIR`` writes the compact
snapshot shipped in ``sibsim/data/indigo``.

Modules, each importing only those before it: ``parse`` (cells: numbers,
dates, currencies), ``tables`` (:data:`COLUMNS`, :class:`ImportReport`,
:class:`IndigoTables`), ``columns`` (columns of the export), ``projects`` and
``export`` (:func:`read_export`), ``snapshot`` (:func:`load`, :func:`main`),
``reference`` (:func:`reference_class`).
"""

from .parse import CURRENCY_NAMES, Parsed, normalise_currency, parse_date, parse_number
from .tables import COLUMNS, TABLES, ImportReport, IndigoTables, conform, from_frames
from .export import read_export
from .snapshot import SNAPSHOT_DIR, load, load_snapshot, main, write_snapshot
from .reference import reference_class

__all__ = ["COLUMNS", "CURRENCY_NAMES", "SNAPSHOT_DIR", "TABLES", "ImportReport", "IndigoTables", "Parsed",
           "conform", "from_frames", "load", "load_snapshot", "main", "normalise_currency", "parse_date",
           "parse_number", "read_export", "reference_class", "write_snapshot"]
