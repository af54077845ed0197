"""``sibsim evidence sweeps|sweep`` and ``sibsim sweep --save``: saved sweeps in the evidence base.

The sweep half of :mod:`sibsim.cli.evidence` (which holds the shared helpers
and registers these commands).
"""

from __future__ import annotations


from ..errors import UsageError
from .evidence import _check_out, _print_json, _safe, _short, _store, _table, _write_atomic


def save_sweep(sc, table, points, design, args) -> int:
    """``sibsim sweep ... --save``: store the sweep (provenance, design, results table); print the new id."""
    from ..store import sweep_record

    record = sweep_record(sc, points, trials=args.trials, seed=args.seed, design=design)
    try:
        with _store(args, create=True) as store:
            sweep_id = store.save_sweep(record, table, tags=args.tag or [], note=args.note or "")
            where = store.url
    except UsageError as e:
        kept = f" (the results are in {args.out})" if getattr(args, "out", None) else ""
        raise UsageError(f"sweep not saved: {e}{kept}") from None
    print(sweep_id if getattr(args, "quiet", False) else f"saved as sweep {sweep_id} in {where}")
    return sweep_id


def _sweep_listing(r: dict) -> dict:
    return {"id": r["id"], "name": r["name"], "hash": r["scenario_hash"], "method": r["method"],
            "inputs": r["inputs"], "points": r["rows"], "seed": r["seed"], "trials": r["trials"],
            "tags": r["tags"], "note": r["note"], "created": r["created"].isoformat()}


def _describe_design(design: dict) -> str:
    method, points = design["method"], design["points"]
    if method == "grid":
        over = ", ".join(f"{k} ({len(v)} value{'s' if len(v) != 1 else ''})" for k, v in design["values"].items())
        return f"grid of {len(points)} points over {over}"
    if method == "lhs":
        over = ", ".join(f"{k} {lo:g} to {hi:g}" for k, (lo, hi) in design["ranges"].items())
        return f"Latin hypercube of {design['n']} points over {over}; design seed {design['seed']}"
    names = ", ".join(points[0]) if points else "(none)"
    return f"{len(points)} points given one by one, setting {names}"


def _sweep_provenance(rec: dict) -> str:
    v = ", ".join(f"{k} {x}" for k, x in rec["versions"].items())
    lines = [f"sweep {rec['id']}: {_safe(rec['name'])}",
             f"  scenario   {rec['scenario_hash']}, seed {rec['seed']}, {rec['trials']:,} trials per point",
             f"  design     {_describe_design(rec['design'])}",
             f"  saved      {rec['created']:%Y-%m-%d %H:%M:%S} UTC with {v}"]
    if rec["tags"]:
        lines.append(f"  tags       {', '.join(map(_safe, rec['tags']))}")
    if rec["note"]:
        lines.append(f"  note       {_safe(rec['note'])}")
    return "\n".join(lines)


def cmd_sweeps(args) -> int:
    with _store(args) as store:
        found = store.list_sweeps(tag=args.tag, name=args.name)
        where = store.url
    if args.json:
        _print_json([_sweep_listing(r) for r in found])
        return 0
    if not found:
        print(f"no saved sweeps{f' tagged {args.tag!r}' if args.tag else ''} in {where}")
        return 0
    rows = [("id", "created (UTC)", "name", "scenario", "design", "points", "seed", "trials", "tags", "note")]
    for r in found:
        design = _short(f"{r['method']}: {', '.join(r['inputs'])}")
        rows.append((str(r["id"]), f"{r['created']:%Y-%m-%d %H:%M}", _safe(r["name"]), r["scenario_hash"], design,
                     f"{r['rows']:,}", str(r["seed"]), f"{r['trials']:,}", ", ".join(map(_safe, r["tags"])),
                     _short(r["note"])))
    print(_table(rows, right={0, 5, 6, 7}))
    return 0


def _export_sweep(args) -> int:
    import pandas as pd

    opt, out = ("--csv", args.csv) if args.csv else ("--parquet", args.parquet)
    path = _check_out(opt, out)
    with _store(args) as store:
        df = store.get_sweep_table(args.id)
    # as `sibsim sweep --out` writes it: the points are columns, the row numbers are not
    index = not (isinstance(df.index, pd.RangeIndex) and df.index.name is None)
    if args.csv:
        _write_atomic(path, lambda p: df.to_csv(p, index=index), opt)
    else:
        _write_atomic(path, lambda p: df.to_parquet(p, engine="pyarrow", index=index), opt)
    print(f"wrote {len(df):,} points x {df.shape[1]} columns of sweep {args.id} to {out}")
    return 0


def cmd_sweep(args) -> int:
    if args.csv or args.parquet:
        return _export_sweep(args)
    if args.head < 0:
        raise UsageError(f"--head must be >= 0; got {args.head}")
    from .sweep import SHOW

    with _store(args) as store:
        rec = store.get_sweep(args.id)
        df = store.get_sweep_table(args.id)
    head = df.head(args.head)
    if args.json:
        _print_json({"id": rec["id"], "name": rec["name"], "scenario": rec["scenario"], "seed": rec["seed"],
                     "trials": rec["trials"], "versions": rec["versions"], "created": rec["created"].isoformat(),
                     "tags": rec["tags"], "note": rec["note"], "design": rec["design"], "inputs": rec["inputs"],
                     "points": len(df), "columns": list(df.columns), "head": head.to_dict("records")})
        return 0
    print(_sweep_provenance(rec))
    print()
    cols = [c for c in rec["inputs"] if c in df.columns] + [c for c in SHOW if c in df.columns]
    if args.head and cols:
        print(head[cols].to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    shown = f"first {len(head)} of " if len(head) < len(df) else ""
    print(f"({shown}{len(df):,} points, {df.shape[1]} columns; all of them: "
          f"sibsim evidence sweep {rec['id']} --csv OUT)")
    return 0


# ---------------------------------------------------------------- parser
