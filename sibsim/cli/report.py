"""``sibsim report``: an Excel workbook and a PDF report of a run, from its JSON file or its evidence-base id."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError
from ..paths import path_kind

OUTPUT_OPTIONS = ("json", "csv", "xlsx", "pdf", "out", "parquet")


def check_input_file(opt: str, path, what: str = "file") -> Path:
    """A readable regular file at ``path``, else a UsageError that says what is there instead."""
    kind = path_kind(path)
    if kind == "missing":
        raise UsageError(f"{opt}{' ' if opt else ''}{path}: no such {what}")
    if kind is not None:
        raise UsageError(f"{opt}{' ' if opt else ''}{path}: is {kind}, not a {what}")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{opt}{' ' if opt else ''}{path}: permission denied (cannot read the {what})")
    return Path(path)


def check_output(opt: str, out) -> Path:
    """The file ``--opt out`` will be written to (a symbolic link is written through, to its target),
    or a UsageError naming the option and saying what is wrong."""
    if out is None or not str(out).strip():
        raise UsageError(f"{opt}: an empty path; give a file name")
    if "\x00" in str(out):
        raise UsageError(f"{opt} {out!r}: a path cannot hold a NUL character")
    p = Path(out)
    target = p.resolve()
    link = f" (a symbolic link to {target})" if p.is_symlink() else ""
    kind = path_kind(target)
    if kind not in (None, "missing"):
        raise UsageError(f"{opt} {out}{link}: is {kind}; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"{opt} {out}{link}: directory {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{opt} {out}{link}: cannot write in directory {target.parent} (permission denied)")
    if kind is None and not os.access(target, os.W_OK):
        raise UsageError(f"{opt} {out}{link}: the file exists and is not writable")
    return target


def check_outputs(args, options=OUTPUT_OPTIONS) -> dict[str, Path]:
    """Refuse unusable output paths before anything is simulated: {option: the file to write}.

    An empty path, a directory, a FIFO or device, a missing or unwritable directory, and two options
    on one file are refused; options that are flags (``--json`` of ``evidence list``) are skipped."""
    seen: dict[Path, str] = {}
    for opt in options:
        out = getattr(args, opt, None)
        if out is None or isinstance(out, bool):
            continue
        target = check_output(f"--{opt}", out)
        if target in seen:
            raise UsageError(f"--{opt} {out}: the same file as --{seen[target]}; give each output its own file")
        seen[target] = opt
    return {opt: target for target, opt in seen.items()}


def write_outputs(items) -> None:
    """``items``: ``[(option, path, write), ...]`` with ``write(tmp_path)``. Every output is written to a
    temporary file beside its target first, and only when all have been written are they renamed into
    place: a failure (or Ctrl-C) leaves no temporary and no output of the set. Symbolic links are
    written through (the link stays; its target gets the new contents)."""
    staged = []
    try:
        for opt, path, write in items:
            target = Path(path).resolve()
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            staged.append((opt, path, tmp, target))
            try:
                write(tmp)
            except OSError as err:
                raise UsageError(f"--{opt} {path}: cannot write ({err.strerror or err})") from None
        for opt, path, tmp, target in staged:
            try:
                os.replace(tmp, target)
            except OSError as err:
                raise UsageError(f"--{opt} {path}: cannot write ({err.strerror or err})") from None
    finally:
        for _, _, tmp, _ in staged:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass


def report_outputs(run, args) -> list:
    """The (option, path, write) items of --xlsx and --pdf, for :func:`write_outputs`.
    The report package (matplotlib, XlsxWriter, fpdf2) is imported only when one is asked for."""
    items = []
    if getattr(args, "xlsx", None):
        from ..report import write_xlsx

        items.append(("xlsx", args.xlsx, lambda p: write_xlsx(run, p)))
    if getattr(args, "pdf", None):
        from ..report import write_pdf

        items.append(("pdf", args.pdf, lambda p: write_pdf(run, p)))
    return items


def wrote(items, args) -> None:
    """One line per written output (unless --quiet)."""
    what = {"xlsx": "Excel workbook", "pdf": "PDF report"}
    if not getattr(args, "quiet", False):
        for opt, path, _ in items:
            if opt in what:
                print(f"wrote {path} ({what[opt]})")


def write_reports(run, args) -> None:
    items = report_outputs(run, args)
    write_outputs(items)
    wrote(items, args)


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
