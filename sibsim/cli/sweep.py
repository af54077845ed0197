"""``sibsim sweep``, ``sibsim sensitivity`` and ``sibsim solve``: thin shells over sibsim.sweep,
sibsim.sensitivity and sibsim.solve."""

from __future__ import annotations

import sys

from ..errors import UsageError
from .run import _write_atomic, add_scenario_args, load_scenario

SHOW = ["outcome_payments_mean", "investor_net_gain_mean", "investor_irr_p50", "investor_loss_p"]


def _float(opt: str, name: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"{opt} {name}: {text!r} is not a number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise UsageError(f"{opt} {name}: {text.strip()!r} is not a finite number; give finite numbers")
    return v


def _name_value(opt: str, item: str) -> tuple[str, str]:
    name, eq, val = item.partition("=")
    if not eq or not name.strip() or not val.strip():
        raise UsageError(f"{opt} expects NAME=VALUES; got {item!r}")
    return name.strip(), val.strip()


def parse_grid(items: list[str]) -> dict[str, list[float]]:
    """``["a=1,2,3", "b=0:1:5"]`` -> {a: [1, 2, 3], b: 5 values from 0 to 1}."""
    import numpy as np

    out = {}
    for item in items:
        name, val = _name_value("--grid", item)
        if name in out:
            raise UsageError(f"--grid {name}: given twice")
        parts = val.split(":")
        if len(parts) == 3:
            lo, hi = _float("--grid", name, parts[0]), _float("--grid", name, parts[1])
            try:
                n = int(parts[2])
            except ValueError:
                n = 0
            if n < 1:
                raise UsageError(f"--grid {name}={val}: LOW:HIGH:COUNT needs a whole COUNT >= 1")
            from ..spec.limits import over

            if msg := over("points", n):
                raise UsageError(f"--grid {name}={val}: {msg}")
            out[name] = [float(x) for x in np.linspace(lo, hi, n)]
        elif len(parts) == 1:
            out[name] = [_float("--grid", name, v) for v in val.split(",") if v.strip()]
        else:
            raise UsageError(f"--grid {name}={val}: give V1,V2,... or LOW:HIGH:COUNT")
    return out


def parse_range(opt: str, text: str, name: str = "") -> tuple[float, float]:
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"{opt} {name}{'=' if name else ''}{text}: expected LOW:HIGH")
    lo, hi = (_float(opt, name or text, p) for p in parts)
    if not hi > lo:
        raise UsageError(f"{opt} {name}{'=' if name else ''}{text}: HIGH must be greater than LOW")
    return lo, hi


def _execution(args) -> dict:
    if args.workers is not None and args.scheduler is not None:
        raise UsageError("give --workers or --scheduler, not both (with --scheduler local, "
                         "the cluster's size is the number of cores)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1; got {args.workers}")
    # with --scheduler local, None: a LocalCluster of one worker a core (sibsim.dispatch.client)
    return {"workers": args.workers, "scheduler": args.scheduler}


def _check_common(args) -> None:
    if args.trials < 1:
        raise UsageError(f"--trials must be at least 1; got {args.trials}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    from .report import check_outputs

    check_outputs(args, ("json", "out"))  # empty, a directory, a FIFO, no directory, both on one file


def _progress(args) -> bool:
    return bool(args.progress or sys.stderr.isatty())


def cmd_sweep(args) -> int:
    from .. import sweep as sw

    _check_common(args)
    ex = _execution(args)
    sc = load_scenario(args)
    if args.out is None and not args.save:
        raise UsageError("give --out OUT.csv|OUT.parquet, --save (the evidence base), or both")
    if not args.save and (args.tag or args.note or args.db):
        raise UsageError("--db, --tag and --note go with --save")
    if args.grid and args.lhs is not None:
        raise UsageError("give --grid or --lhs, not both")
    if args.grid:
        if args.range:
            raise UsageError("--range goes with --lhs; a grid lists its values in --grid NAME=V1,V2,...")
        values = parse_grid(args.grid)
        sw.check_inputs(sc, values, option="--grid")
        points = sw.grid(**values)
        design = {"method": "grid", "values": values}
    elif args.lhs is not None:
        if not args.range:
            raise UsageError("--lhs N needs at least one --range NAME=LOW:HIGH")
        ranges = {}
        for item in args.range:
            name, val = _name_value("--range", item)
            ranges[name] = parse_range("--range", val, name)
        sw.check_inputs(sc, ranges, option="--range")
        points = sw.lhs(args.lhs, ranges, args.seed)
        design = {"method": "lhs", "n": args.lhs, "ranges": ranges, "seed": args.seed}
    else:
        raise UsageError("give the points: --grid NAME=V1,V2,... (repeatable) or --lhs N --range NAME=LOW:HIGH")
    if args.out is not None:
        sw._check_out(args.out)  # a bad --out fails before the database is touched
    if args.save:
        from .evidence import check_store

        from .run import check_save_args

        check_save_args(sc, args)  # a tag, note or name the store would refuse fails now, not after the sweep
        check_store(args, "sweep")  # a wrong database fails before the sweep, not after
    df = sw.sweep(sc, points, trials=args.trials, seed=args.seed, progress=_progress(args), out=args.out, **ex)
    if not args.quiet:
        reused = df.attrs.get("reused", 0)
        where = f" ({reused} already in {args.out})" if args.out else ""
        print(f"{sc.name}: {len(df)} points{where}, {args.trials:,} trials each, seed {args.seed}"
              f"{f' -> {args.out}' if args.out else ''}")
        cols = [*points[0], *[c for c in SHOW if c in df.columns]]
        from ..outputs import fmt_column

        fmts = {c: (lambda col: lambda v: fmt_column(col, v))(c) for c in cols}  # units from the declaration
        print(df[cols].to_string(index=False, formatters=fmts))
    if args.save:
        from .evidence_sweeps import save_sweep

        save_sweep(sc, df, points, design, args)
    return 0


def cmd_sensitivity(args) -> int:
    from ..sensitivity import sensitivity

    _check_common(args)
    ex = _execution(args)
    sc = load_scenario(args)
    names = [n.strip() for n in args.params.split(",") if n.strip()] if args.params else None
    res = sensitivity(sc, method=args.method, output=args.output, stat=args.stat, samples=args.samples,
                      trials=args.trials, seed=args.seed, names=names, progress=_progress(args), **ex)
    if args.json:
        _write_atomic(args.json, res.to_json() + "\n")
    if not args.quiet:
        print(f"{sc.name}: {args.method} sensitivity of {args.output}.{args.stat}, {res.evaluations} simulations "
              f"of {args.trials:,} trials, seed {args.seed}")
        df = res.to_frame().loc[res.ranking()]
        if res.base is not None:
            print(f"at every parameter's median: {res.base:,.4g}")
        print(df.to_string(float_format=lambda v: f"{v:,.4f}"))  # indices: no scientific notation
    return 0


def cmd_solve(args) -> int:
    from ..solve import parse_target, solve

    _check_common(args)
    sc = load_scenario(args)
    target, value = parse_target(args.target)
    bounds = parse_range("--bounds", args.bounds) if args.bounds else None
    sol = solve(sc, vary=args.vary, target=target, value=value, bounds=bounds, trials=args.trials, seed=args.seed)
    if args.json:
        _write_atomic(args.json, sol.to_json() + "\n")
    if not args.quiet:
        print(f"{sol.vary} = {sol.value:.6g} gives {sol.target} = {sol.achieved:.6g} (target {value:g}; "
              f"{sol.trials:,} trials, seed {sol.seed}; {sol.evaluations} simulations; "
              f"{sol.target} was {sol.at_bounds[0]:.4g} at {sol.bounds[0]:g} and {sol.at_bounds[1]:.4g} at "
              f"{sol.bounds[1]:g})")
    return 0


def _execution_args(p) -> None:
    g = p.add_argument_group("where the simulations run (results do not depend on it)")
    g.add_argument("--workers", type=int, help="local worker processes (default 1)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786), or 'local' to start a LocalCluster of one worker a core")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


def register(sub) -> None:
    p = sub.add_parser("sweep", help="simulate a grid or Latin hypercube of parameter values and prices",
                       description="One simulation per point, all on the same seed (common random numbers). "
                       "NAME is a parameter or price.<outcome>. An interrupted sweep resumes from --out; "
                       "--save keeps the sweep (provenance, design, results) in the evidence base.")
    add_scenario_args(p, trials_default=2_000)
    p.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                   help="values of NAME (or LOW:HIGH:COUNT); repeat for a full factorial grid")
    p.add_argument("--lhs", type=int, metavar="N", help="N points of a Latin hypercube over the --range values")
    p.add_argument("--range", action="append", metavar="NAME=LOW:HIGH", help="range of NAME for --lhs (repeatable)")
    p.add_argument("--out", metavar="OUT.csv|OUT.parquet",
                   help="results, one row per point (needed unless --save)")
    g = p.add_argument_group("evidence base")
    g.add_argument("--save", action="store_true", help="save the sweep in the evidence base and print its id")
    g.add_argument("--db", metavar="URL", help="evidence base: SQLAlchemy URL or SQLite file (default $SIBSIM_DB, "
                                               "else ./evidence.db)")
    g.add_argument("--tag", action="append", metavar="TAG", help="tag the saved sweep (repeatable)")
    g.add_argument("--note", metavar="TEXT", default="", help="a note on the saved sweep")
    _execution_args(p)
    p.set_defaults(func=cmd_sweep)

    s = sub.add_parser("sensitivity", help="Sobol, Morris or tornado sensitivity of an output to the parameters",
                       description="Each simulation fixes the uncertain parameters at a sampled point; ranges are "
                       "each prior's P1..P99 (Sobol, Morris) or P10/P90 around the medians (tornado).")
    add_scenario_args(s, trials_default=1_000)
    s.add_argument("--method", choices=["sobol", "morris", "tornado"], default="sobol")
    s.add_argument("--samples", type=int, default=64,
                   help="Sobol base samples (a power of two; N*(D+2) simulations) or Morris trajectories (default 64)")
    s.add_argument("--output", required=True, metavar="METRIC", help="the metric analysed, e.g. investor_net_gain")
    s.add_argument("--stat", default="mean", help="its statistic: mean, std, p5, p50, p95, pNN (default mean)")
    s.add_argument("--params", metavar="A,B,...", help="vary only these parameters (default: every uncertain one)")
    s.add_argument("--json", metavar="OUT", help="write the indices as JSON")
    _execution_args(s)
    s.set_defaults(func=cmd_sensitivity)

    v = sub.add_parser("solve", help="the value of a parameter or price at which a target is met",
                       description="Root finding (Brent) on common random numbers: every simulation uses the same "
                       "seed. Write negative bounds as --bounds=-0.1:0.2.")
    add_scenario_args(v, trials_default=10_000)
    v.add_argument("--vary", required=True, metavar="NAME", help="a parameter or price.<outcome>")
    v.add_argument("--target", required=True, metavar="METRIC.STAT=VALUE", help="e.g. investor_irr.p50=0.05")
    v.add_argument("--bounds", metavar="LOW:HIGH",
                   help="search interval (default: the prior's P1..P99, or 0 to 3x the current price)")
    v.add_argument("--json", metavar="OUT", help="write the answer as JSON")
    v.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    v.set_defaults(func=cmd_solve)

