"""``sibsim report``: an Excel workbook and a PDF report of a run, from its JSON file or its evidence-base id."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError


def check_outputs(args) -> None:
    """Refuse unusable --xlsx/--pdf paths before anything is simulated."""
    seen = {}
    for opt in ("json", "csv", "xlsx", "pdf"):
        out = getattr(args, opt, None)
        if out is None:
            continue
        if not str(out).strip():
            raise UsageError(f"--{opt}: an empty path; give a file name")
        p = Path(out)
        if p.is_dir():
            raise UsageError(f"--{opt} {out}: is a directory; give a file name")
        if not p.resolve().parent.is_dir():
            raise UsageError(f"--{opt} {out}: directory {p.resolve().parent} does not exist")
        key = str(p.resolve())
        if key in seen:
            raise UsageError(f"--{opt} {out}: the same file as --{seen[key]}; give each output its own file")
        seen[key] = opt


def write_reports(run, args) -> None:
    from ..report import write_pdf, write_xlsx

    if getattr(args, "xlsx", None):
        write_xlsx(run, args.xlsx)
        if not getattr(args, "quiet", False):
            print(f"wrote {args.xlsx} (Excel workbook)")
    if getattr(args, "pdf", None):
        write_pdf(run, args.pdf)
        if not getattr(args, "quiet", False):
            print(f"wrote {args.pdf} (PDF report)")


def cmd_report(args) -> int:
    from ..report import load_run

    if not (args.xlsx or args.pdf):
        raise UsageError("give --xlsx OUT and/or --pdf OUT")
    check_outputs(args)
    run = load_run(args.source, db=args.db)
    write_reports(run, args)
    return 0


def add_report_args(p) -> None:
    p.add_argument("--xlsx", metavar="OUT", help="write an Excel workbook: summary per model and party, cash flows "
                                                 "per period, probabilities, inputs, provenance")
    p.add_argument("--pdf", metavar="OUT", help="write a printable PDF report")


def register(sub) -> None:
    p = sub.add_parser("report", help="Excel workbook and PDF report of a run (JSON file or evidence-base id)")
    p.add_argument("source", help="a run's JSON file (sibsim run --json) or an evidence-base run id")
    add_report_args(p)
    p.add_argument("--db", metavar="URL", help="evidence base for a run id (default $SIBSIM_DB, else ./evidence.db)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_report)
