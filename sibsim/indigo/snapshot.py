"""The compact snapshot of the tidy tables shipped in ``sibsim/data/indigo``.

``python -m sibsim.indigo build-snapshot SRC_DIR DEST_DIR`` writes it from a
CSV export (:func:`main`); :func:`load` reads either.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from .export import projects_dir, read_export
from .tables import TABLES, ImportReport, IndigoTables, from_frames

SNAPSHOT_DIR = Path(__file__).parents[1] / "data" / "indigo"


def write_snapshot(data: IndigoTables, dest_dir) -> Path:
    """Write the tidy tables as CSV plus ``report.json`` into ``dest_dir``."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for name, df in data.tables.items():
        df.to_csv(dest / f"{name}.csv", index=False, date_format="%Y-%m-%d", float_format="%.10g")
    report = data.report.to_dict()
    report["source"] = f"INDIGO CSV export {Path(data.report.source).name}/"
    (dest / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return dest


def load_snapshot(src_dir=None) -> IndigoTables:
    """The tidy tables from a snapshot directory (default: the one shipped with sibsim)."""
    src = Path(src_dir) if src_dir is not None else SNAPSHOT_DIR
    if not (src / "projects.csv").is_file():
        raise UsageError(f"INDIGO: {src} is neither an INDIGO CSV export (projects_outcome_pricings.csv, "
                         "in the folder or in its projects/ sub-folder) nor a snapshot (projects.csv and "
                         "report.json); build a snapshot with `python -m sibsim.indigo build-snapshot SRC_DIR DEST_DIR`")
    frames = {name: pd.read_csv(src / f"{name}.csv", dtype=object, keep_default_na=False, na_values=[""])
              for name in TABLES}
    report = ImportReport.from_dict(json.loads((src / "report.json").read_text()))
    report.source = f"snapshot {src} of {report.source}"
    return from_frames(frames, report)


def load(src_dir=None) -> IndigoTables:
    """A CSV export (``projects_outcome_pricings.csv`` present, flat or in ``projects/``) or a snapshot;
    None is the shipped snapshot."""
    if src_dir is not None and projects_dir(src_dir) is not None:
        return read_export(src_dir)
    return load_snapshot(src_dir)


def main(argv=None) -> int:
    from . import __doc__ as overview

    ap = argparse.ArgumentParser(prog="python -m sibsim.indigo", description=overview.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-snapshot", help="parse the CSV export and write the tidy tables")
    b.add_argument("src_dir")
    b.add_argument("dest_dir")
    args = ap.parse_args(argv)
    data = read_export(args.src_dir)
    write_snapshot(data, args.dest_dir)
    print(data.report)
    return 0
