"""``sibsim evidence ...``, ``sibsim run --save`` and ``sibsim sweep --save``: the evidence base from the command line.

A thin shell over :mod:`sibsim.store`. Every command takes ``--db URL`` (a
SQLAlchemy URL or a SQLite file; default ``$SIBSIM_DB``, else
``./evidence.db``). Commands that only read refuse a SQLite file that does not
exist rather than create an empty evidence base at a mistyped path; saving a
run or a sweep, or importing INDIGO, creates it. A database that cannot be
used, or a run or sweep id that is not there, is a one-line error naming the
database (password masked) and exit status 2.
"""

from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager
from pathlib import Path

from ..errors import UsageError
from .run import key_metrics, summary_text


# ---------------------------------------------------------------- helpers


@contextmanager
def _store(args, *, create: bool = False, reference: bool = True, write: bool = False):
    """The evidence base of ``args.db``; database errors become one-line UsageErrors. Unless ``create`` or
    ``write``, it is opened read-only (a read command never writes, and a read-only file can be listed)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..store import open_store
    from ..store.db import check_sqlite_file, describe_error, masked, resolve_url

    url = resolve_url(getattr(args, "db", None))
    check_sqlite_file(url)  # a directory, a FIFO, a device or another application's file: say which
    if not create and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).is_file():
        raise UsageError(f"evidence database {masked(url)}: no such file; `sibsim run FILE --save` "
                         "(or `sibsim sweep ... --save`) creates one")
    store = open_store(url, reference=reference, read_only=not (create or write))
    try:
        yield store
    except SQLAlchemyError as e:
        raise describe_error(url, e, "failed") from None
    finally:
        store.close()


def _table(rows: list[tuple[str, ...]], right: set[int] | None = None) -> str:
    from ..views import format_table

    return format_table(rows, right=right)


def _short(text: str, width: int = 40) -> str:
    text = _safe(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _safe(text) -> str:
    """Stored text as printed: repr-escaped when it holds escape sequences, newlines or other control characters."""
    from .run import printable

    return printable(str(text))


def format_summary(rec: dict, *, every: bool = False) -> str:
    """A run record's summary (as ``sibsim run`` prints it) and, with several finance models, its party table."""
    from ..views import party_text, record_results

    names = list(rec["metrics"]) if every else None
    text = summary_text(rec["metrics"], rec["probabilities"], names=names)
    if len(rec.get("models") or {}) > 1:
        text += "\n\nFinance models on the same draws, by party\n" + party_text(record_results(rec))
    return text


def _json_safe(x):
    """NaN and infinities as null, as in a run's JSON (``Run.to_json``)."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _print_json(obj) -> None:
    print(json.dumps(_json_safe(obj), indent=2))


def _check_out(opt: str, out: str) -> Path:
    from .report import check_output

    check_output(opt, out)
    return Path(out)


def _write_atomic(path: Path, write, opt: str = "--out") -> None:
    """``write(tmp_path)`` then rename, so a failure never leaves half a file (sibsim.cli.report.write_outputs)."""
    from .report import write_outputs

    write_outputs([(opt.lstrip("-"), path, write)])


def _listing(r: dict) -> dict:
    return {"id": r["id"], "name": r["name"], "hash": r["scenario_hash"], "seed": r["seed"], "trials": r["trials"],
            "tags": r["tags"], "note": r["note"], "created": r["created"].isoformat()}


def _provenance(rec: dict) -> str:
    v = ", ".join(f"{k} {x}" for k, x in rec["versions"].items())
    lines = [f"run {rec['id']}: {_safe(rec['name'])}",
             f"  scenario   {rec['scenario_hash']}, seed {rec['seed']}, {rec['trials']:,} trials",
             f"  saved      {rec['created']:%Y-%m-%d %H:%M:%S} UTC with {v}"]
    if rec["tags"]:
        lines.append(f"  tags       {', '.join(map(_safe, rec['tags']))}")
    if rec["note"]:
        lines.append(f"  note       {_safe(rec['note'])}")
    return "\n".join(lines)


# ---------------------------------------------------------------- commands


def check_store(args, what: str = "run") -> None:
    """Open (or create) the evidence base of ``args.db`` before a long run or sweep, so a bad URL fails at once."""
    try:
        with _store(args, create=True):
            pass
    except UsageError as e:
        raise UsageError(f"{what} not started: {e}") from None


def save_run(run, args) -> int:
    """``sibsim run ... --save``: store the run and its per-trial metrics; print the new id."""
    try:
        with _store(args, create=True) as store:
            run_id = store.save_run(run.to_dict(), run.per_trial(), tags=args.tag or [], note=args.note or "")
            where = store.url
    except UsageError as e:
        raise UsageError(f"run not saved: {e}") from None
    print(run_id if getattr(args, "quiet", False) else f"saved as run {run_id} in {where}")
    return run_id


def cmd_list(args) -> int:
    with _store(args) as store:
        runs = store.list_runs(tag=args.tag, name=args.name)
        where = store.url
    if args.json:
        _print_json([_listing(r) for r in runs])
        return 0
    if not runs:
        print(f"no saved runs{f' tagged {args.tag!r}' if args.tag else ''} in {where}")
        return 0
    rows = [("id", "created (UTC)", "name", "scenario", "seed", "trials", "tags", "note")]
    for r in runs:
        rows.append((str(r["id"]), f"{r['created']:%Y-%m-%d %H:%M}", _safe(r["name"]), r["scenario_hash"],
                     str(r["seed"]), f"{r['trials']:,}", ", ".join(map(_safe, r["tags"])), _short(r["note"])))
    print(_table(rows, right={0, 4, 5}))
    return 0


def cmd_show(args) -> int:
    with _store(args) as store:
        rec = store.get_run(args.id)
    if args.json:
        _print_json({"id": rec["id"], "name": rec["name"], "scenario": rec["scenario"], "seed": rec["seed"],
                     "trials": rec["trials"], "versions": rec["versions"], "created": rec["created"].isoformat(),
                     "tags": rec["tags"], "note": rec["note"], "format": rec["format"],
                     "finance_models": rec["finance_models"], "metrics": rec["metrics"],
                     "probabilities": rec["probabilities"], "models": rec["models"], "timing": rec["timing"]})
        return 0
    print(_provenance(rec))
    print()
    print(format_summary(rec, every=args.all))
    return 0


def rerun(rec: dict, *, progress: bool = False):
    """Regenerate a stored run from its canonical JSON, seed and trials, with every finance model it had.
    Returns the new Run."""
    import sibsim
    from .. import spec

    sc = spec.validate(json.loads(rec["scenario"]["canonical_json"]), source=f"run {rec['id']}")
    if sc.content_hash != rec["scenario_hash"]:
        print(f"sibsim: warning: run {rec['id']}'s scenario now hashes to {sc.content_hash}, not "
              f"{rec['scenario_hash']}; the scenario format has changed since it was saved", file=sys.stderr)
    finance = list(rec.get("finance_models") or [])[1:]
    return sibsim.simulate(sc, trials=int(rec["trials"]), seed=int(rec["seed"]), finance=finance, progress=progress)


def cmd_rerun(args) -> int:
    from .report import check_outputs, write_outputs

    outs = check_outputs(args, ("json", "csv"))
    with _store(args) as store:
        rec = store.get_run(args.id)
    run = rerun(rec, progress=sys.stderr.isatty())
    new = run.to_dict()
    write_outputs([item for item in (("json", args.json, lambda p: p.write_text(run.to_json() + "\n")),
                                     ("csv", args.csv, lambda p: run.to_frame().to_csv(p, index=True)))
                   if item[0] in outs])
    from ..store.runs import differences

    differ = differences(rec, new)
    if not args.quiet:
        print(f"{rec['name']}: rerun of run {rec['id']}, {run.trials:,} trials, seed {run.seed}, "
              f"{run.engine_seconds:.2f} s")
        print(format_summary(new))
        print()
    if differ:
        then = ", ".join(f"{k} {v}" for k, v in rec["versions"].items())
        now = ", ".join(f"{k} {v}" for k, v in new["versions"].items())
        print(f"differs from stored run {rec['id']} in {len(differ)} numbers ({', '.join(sorted(differ)[:5])}"
              f"{', ...' if len(differ) > 5 else ''}); saved with {then}, rerun with {now}")
        return 1
    if not args.quiet:
        n = sum(len(r["metrics"]) + len(r["probabilities"]) for r in new["models"].values())
        print(f"identical to stored run {rec['id']}: {len(new['metrics'])} metrics, "
              f"{len(new['probabilities'])} probabilities, {len(new['models'])} finance model"
              f"{'s' * (len(new['models']) != 1)} "
              f"({', '.join(new['models'])}; {n} model outputs)")
    return 0


def _columns(rec: dict) -> tuple[dict, dict]:
    """A record's (metric summaries, probabilities) under per-trial column names (other models: ``pbr:name``)."""
    from ..outputs import column

    metrics, probs = dict(rec["metrics"]), dict(rec["probabilities"])
    for model in (rec.get("finance_models") or [])[1:]:
        r = rec["models"][model]
        metrics.update({column(model, k): v for k, v in r["metrics"].items()})
        probs.update({column(model, k): v for k, v in r["probabilities"].items()})
    return metrics, probs


def _difference(a: dict | None, b: dict | None, key: str, err: str, xa=None, xb=None) -> dict:
    """B - A of one output: paired (per-trial differences) when both runs' trials are given, else independent."""
    from ..views import paired_difference

    va = a[key] if a else math.nan
    vb = b[key] if b else math.nan
    va, vb = (math.nan if v is None else v for v in (va, vb))
    if xa is not None and xb is not None:
        d = paired_difference(xa, xb)
        return {"a": va, "b": vb, "difference": d["difference"], "se": d["se"], "paired": True}
    se = math.sqrt(a[err] ** 2 + b[err] ** 2) if a and b and a[err] is not None and b[err] is not None else math.nan
    return {"a": va, "b": vb, "difference": vb - va, "se": se, "paired": False}


def input_differences(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """``[(field path, value in A, value in B)]`` where two scenarios' inputs differ (canonical JSON)."""
    def walk(x, y, path):
        if isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys():
            for k in x:
                yield from walk(x.get(k), y.get(k), f"{path}.{k}" if path else str(k))
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (u, v) in enumerate(zip(x, y)):
                yield from walk(u, v, f"{path}[{i}]")
        elif x != y:
            yield path, x, y

    return list(walk(json.loads(a["scenario"]["canonical_json"]), json.loads(b["scenario"]["canonical_json"]), ""))


def _show(v) -> str:
    text = json.dumps(v, separators=(", ", ": ")) if not isinstance(v, str) else v
    return _short(text, 60) if v is not None else "(none)"


def cmd_compare(args) -> int:
    from .. import outputs

    with _store(args) as store:
        a, b = store.get_run(args.a), store.get_run(args.b)
        paired = a["seed"] == b["seed"] and a["trials"] == b["trials"]
        ta, tb = (store.get_per_trial(a["id"]), store.get_per_trial(b["id"])) if paired else (None, None)
    (ma, pa), (mb, pb) = _columns(a), _columns(b)
    if args.all:
        names = list(dict.fromkeys([*ma, *mb]))
    else:
        names = list(dict.fromkeys(key_metrics(ma) + key_metrics(mb)))
        for model in dict.fromkeys([*(a["finance_models"] or [])[1:], *(b["finance_models"] or [])[1:]]):
            names += [outputs.column(model, k) for k in ("commissioner_cost", "public_cost", "provider_surplus",
                                                         "provider_min_cash")
                      if outputs.column(model, k) in ma or outputs.column(model, k) in mb]

    def per_trial(t, k):
        return None if t is None or k not in t.columns else t[k].to_numpy(dtype=float)

    metrics = {m: _difference(ma.get(m), mb.get(m), "mean", "mcse", per_trial(ta, m), per_trial(tb, m))
               for m in names}
    probs = {k: _difference(pa.get(k), pb.get(k), "p", "se", per_trial(ta, k), per_trial(tb, k))
             for k in dict.fromkeys([*pa, *pb]) if args.all or outputs.curve_point(k) is None}
    inputs = input_differences(a, b)
    if args.json:
        _print_json({"a": _listing(a), "b": _listing(b), "paired": paired,
                     "inputs": [{"field": f, "a": x, "b": y} for f, x, y in inputs],
                     "metrics": metrics, "probabilities": probs})
        return 0
    for label, r in (("A", a), ("B", b)):
        print(f"{label} = run {r['id']}: {r['name']} ({r['scenario_hash']}, seed {r['seed']}, {r['trials']:,} trials)")
    if not inputs:
        print("the scenarios' inputs are identical" + (": with the same seed and trials the differences are zero"
                                                        if paired else ""))
    else:
        print(f"inputs that differ ({len(inputs)}):")
        for f, x, y in inputs:
            print(f"  {f}: A {_show(x)}, B {_show(y)}")
    print()

    def label(col):
        model, name = outputs.split_column(col)
        return outputs.label(name) + (f" [{model}]" if model else "")

    def fmt(col, v):
        return outputs.fmt_output(outputs.split_column(col)[1], v)

    rows = [("output (mean)", "A", "B", "B - A", "± se", "name")]
    rows += [(label(m), fmt(m, d["a"]), fmt(m, d["b"]), fmt(m, d["difference"]), fmt(m, d["se"]), m)
             for m, d in metrics.items()]
    print(_table(rows, right={1, 2, 3, 4}))
    print()
    rows = [("probability", "A", "B", "B - A", "± se", "name")]
    rows += [(outputs.probability_label(outputs.split_column(k)[1]) + (f" [{outputs.split_column(k)[0]}]"
                                                                        if outputs.split_column(k)[0] else ""),
              *(outputs.fmt(d[c], "probability") for c in ("a", "b", "difference", "se")), k)
             for k, d in probs.items()]
    print(_table(rows, right={1, 2, 3, 4}))
    if paired:
        print("\n± se: standard error of the paired difference, from the runs' per-trial results (same seed and "
              "trials: common random numbers)")
    else:
        print("\n± se: Monte Carlo standard error of the difference of independent runs (different seeds or trials)")
    return 0


def cmd_export(args) -> int:
    opt, out = ("--csv", args.csv) if args.csv else ("--parquet", args.parquet)
    path = _check_out(opt, out)
    with _store(args) as store:
        df = store.get_per_trial(args.id)
    if args.csv:
        _write_atomic(path, lambda p: df.to_csv(p, index=True), opt)
    else:
        _write_atomic(path, lambda p: df.to_parquet(p, engine="pyarrow", index=True), opt)
    print(f"wrote {len(df):,} trials x {df.shape[1]} metrics of run {args.id} to {out}")
    return 0


def cmd_tag(args) -> int:
    with _store(args, write=True) as store:
        tags = store.remove_tags(args.id, args.tags) if args.remove else store.add_tags(args.id, args.tags)
    print(f"run {args.id} tags: {', '.join(map(_safe, tags)) or '(none)'}")
    return 0


def cmd_note(args) -> int:
    with _store(args, write=True) as store:
        store.set_note(args.id, args.text)
    print(f"run {args.id} note {'set' if args.text else 'cleared'}")
    return 0


def cmd_import_indigo(args) -> int:
    if args.dir is not None and not Path(args.dir).is_dir():
        raise UsageError(f"import-indigo: {args.dir} is not a directory (give the INDIGO CSV export or a snapshot)")
    with _store(args, create=True, reference=False) as store:
        if args.replace:
            _keep_previous(store, args)
        report = store.import_indigo(args.dir, replace=args.replace)
        where = store.url
    print(report)
    stored = ", ".join(f"{t} {n}" for t, n in report.rows_kept.items())
    print(f"stored in {where}: {stored}")
    return 0


def _keep_previous(store, args) -> None:
    """``import-indigo --replace``: write the reference data stored now as a snapshot first (``--backup``)."""
    from datetime import datetime, timezone

    from ..indigo import write_snapshot
    from ..store.reference import previous_snapshot

    data = previous_snapshot(store.engine)
    if data is None or data.projects.empty:
        return
    dest = Path(args.backup or f"indigo-before-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"--backup {dest}: exists and is not empty; give a new directory")
    try:
        write_snapshot(data, dest)
    except OSError as err:
        raise UsageError(f"--backup {dest}: cannot write ({err.strerror or err}); nothing imported") from None
    print(f"kept the previous reference data ({len(data.projects):,} projects) as snapshot {dest}/; "
          f"`sibsim evidence import-indigo {dest}` restores it")


# ---------------------------------------------------------------- sweeps


def register(sub) -> None:
    from .evidence_sweeps import cmd_sweep, cmd_sweeps

    import argparse

    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", metavar="URL", help="evidence base: SQLAlchemy URL or SQLite file "
                                                "(default $SIBSIM_DB, else ./evidence.db)")
    ev = sub.add_parser("evidence", help="the evidence base: saved runs and sweeps, INDIGO reference data",
                        description="Saved runs and sweeps with their provenance, and INDIGO reference data. "
                                    "Save a run with `sibsim run FILE --save`, a sweep with "
                                    "`sibsim sweep FILE ... --save`.")
    ev.set_defaults(func=lambda _args: (ev.print_help(), 2)[1])
    cmds = ev.add_subparsers(dest="evidence_command", metavar="COMMAND", parser_class=type(ev))

    p = cmds.add_parser("list", parents=[db], help="saved runs, oldest first")
    p.add_argument("--tag", help="only runs with this tag")
    p.add_argument("--name", help="only runs of the scenario with this name")
    p.add_argument("--json", action="store_true", help="print JSON: a list of runs")
    p.set_defaults(func=cmd_list)

    p = cmds.add_parser("show", parents=[db], help="a saved run's provenance and summary")
    p.add_argument("id", type=int)
    p.add_argument("--all", action="store_true", help="every metric, not only the key ones")
    p.add_argument("--json", action="store_true", help="print JSON (metrics as in a run's JSON, and provenance)")
    p.set_defaults(func=cmd_show)

    p = cmds.add_parser("rerun", parents=[db], help="regenerate a saved run from its scenario, seed and trials "
                                                    "and check the numbers are identical (exit 1 if not)")
    p.add_argument("id", type=int)
    p.add_argument("--json", metavar="OUT", help="write the regenerated run's JSON")
    p.add_argument("--csv", metavar="OUT", help="write the regenerated run's per-trial metrics as CSV")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when the numbers are identical")
    p.set_defaults(func=cmd_rerun)

    p = cmds.add_parser("compare", parents=[db], help="two saved runs side by side, with differences")
    p.add_argument("a", type=int, metavar="ID_A")
    p.add_argument("b", type=int, metavar="ID_B")
    p.add_argument("--all", action="store_true", help="every metric, not only the key ones")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_compare)

    p = cmds.add_parser("export", parents=[db], help="a saved run's per-trial metrics as CSV or Parquet")
    p.add_argument("id", type=int)
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", metavar="OUT")
    out.add_argument("--parquet", metavar="OUT")
    p.set_defaults(func=cmd_export)

    p = cmds.add_parser("tag", parents=[db], help="add tags to a saved run (or remove them)")
    p.add_argument("id", type=int)
    p.add_argument("tags", nargs="+", metavar="TAG")
    p.add_argument("--remove", action="store_true", help="remove these tags instead")
    p.set_defaults(func=cmd_tag)

    p = cmds.add_parser("note", parents=[db], help="set a saved run's note ('' clears it)")
    p.add_argument("id", type=int)
    p.add_argument("text")
    p.set_defaults(func=cmd_note)

    p = cmds.add_parser("sweeps", parents=[db], help="saved sweeps, oldest first")
    p.add_argument("--tag", help="only sweeps with this tag")
    p.add_argument("--name", help="only sweeps of the scenario with this name")
    p.add_argument("--json", action="store_true", help="print JSON: a list of sweeps")
    p.set_defaults(func=cmd_sweeps)

    p = cmds.add_parser("sweep", parents=[db], help="a saved sweep's provenance, design and results "
                                                    "(or export its results table)")
    p.add_argument("id", type=int)
    p.add_argument("--head", type=int, default=10, metavar="N", help="rows of the results shown (default 10)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true",
                     help="print JSON: provenance, design (with its points), columns and the first --head rows")
    out.add_argument("--csv", metavar="OUT", help="write the results table as CSV, as `sibsim sweep --out` would")
    out.add_argument("--parquet", metavar="OUT", help="write the results table as Parquet")
    p.set_defaults(func=cmd_sweep)

    p = cmds.add_parser("import-indigo", parents=[db],
                        help="load INDIGO into the reference tables and report what was read and skipped")
    p.add_argument("dir", nargs="?", help="INDIGO CSV export or tidy snapshot directory "
                                          "(default: the snapshot shipped with sibsim)")
    p.add_argument("--replace", action="store_true",
                   help="import even if it holds more than 10%% fewer projects than the reference data stored; "
                        "the stored data is first written as a snapshot (--backup)")
    p.add_argument("--backup", metavar="DIR", help="with --replace: where the previous reference data is kept "
                                                   "(default ./indigo-before-<UTC time>)")
    p.set_defaults(func=cmd_import_indigo)
