"""``sibsim observe`` and ``sibsim reforecast``: a running contract's observations and its re-forecast."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UsageError


def _write(path: str, text: str) -> None:
    p = Path(path)
    if not p.resolve().parent.is_dir():
        raise UsageError(f"{path}: directory {p.resolve().parent} does not exist")
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)


def _fmt(v) -> str:
    if v is None or v != v:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.3g}"


def _table(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def cmd_observe(args) -> int:
    import sibsim
    from ..observe import synthesize
    from .run import parse_sets

    sc = sibsim.load(args.file)
    truth = parse_sets(args.set)
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    syn = synthesize(sc, truth=truth, until=args.until, seed=args.seed)
    comments = [f"synthetic observations of '{sc.name}' (scenario hash {sc.content_hash})",
                f"sibsim observe {args.file} --until {args.until} --seed {args.seed}"
                + "".join(f" --set {k}={v:g}" for k, v in truth.items()),
                "truth: " + ", ".join(f"{k}={v:.6g}" for k, v in sorted(syn.truth.items())),
                f"final outcome payments in truth: {syn.final['outcome_payments']:.2f}"]
    text = syn.observations.to_csv(comments=comments)
    if args.out:
        _write(args.out, text)
        if not args.quiet:
            print(f"wrote {args.until} periods of observations of '{sc.name}' to {args.out} "
                  f"(hash {syn.observations.content_hash[:12]})")
    else:
        sys.stdout.write(text)
    return 0


def posterior_table(rf) -> str:
    rows = [("parameter", "prior mean", "prior P5-P95", "posterior mean", "posterior P5-P95", "ESS", "k-hat")]
    for k, s in rf.posterior.summary().items():
        a, b = s["prior"], s["posterior"]
        rows.append((k, _fmt(a["mean"]), f"{_fmt(a['p5'])} - {_fmt(a['p95'])}", _fmt(b["mean"]),
                     f"{_fmt(b['p5'])} - {_fmt(b['p95'])}", f"{b['ess']:,.0f}", _fmt(b["khat"])))
    return _table(rows)


def changes_table(rf) -> str:
    rows = [("model", "quantity", "before (prior)", "after (posterior)")]
    for model, ch in rf.changes().items():
        for k, v in ch.items():
            p = k.startswith("P(")
            rows.append((model, k, f"{v['before']:.3f}" if p else _fmt(v["before"]),
                         f"{v['after']:.3f}" if p else _fmt(v["after"])))
    return _table(rows)


def cmd_reforecast(args) -> int:
    import sibsim
    from ..reforecasting import reforecast
    from .run import summary_table

    if args.trials < 1:
        raise UsageError(f"--trials must be at least 1; got {args.trials}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    sc = sibsim.load(args.file)
    from ..observe import read_observations

    obs = read_observations(args.observations, sc)
    if args.save:
        from .evidence import check_store

        check_store(args, "re-forecast")
    finance = [f.strip() for f in (args.finance or "").split(",") if f.strip()]
    rf = reforecast(sc, obs, trials=args.trials, seed=args.seed, finance=finance, draws=args.draws,
                    method=args.method)
    if not args.quiet:
        d = rf.posterior.diagnostics
        how = (f"importance sampling, k-hat {d['khat']:.2f}, ESS {d['ess']:,.0f} of {d['draws']:,}"
               if d["method"] == "importance" else
               f"tempered SMC ({d['stages']} stages; importance sampling alone had k-hat "
               f"{d['importance_khat']:.2f}, ESS {d['importance_ess']:,.0f} of {d['draws']:,}), "
               f"acceptance {d['acceptance']:.2f}")
        print(f"{sc.name}: re-forecast from period {obs.until} ({len(obs.periods)} periods observed, "
              f"observations {obs.content_hash[:12]}); {rf.run.trials:,} trials, seed {rf.run.seed}; "
              f"amounts in {sc.currency}")
        print(f"posterior by {how}\n")
        print(posterior_table(rf))
        print("\nforecast given the observations:")
        print(summary_table(rf.run))
        print("\nwhat the observations changed:")
        print(changes_table(rf))
    if args.json:
        _write(args.json, rf.to_json() + "\n")
    if args.save:
        _save(rf, sc, args)
    return 0


def _save(rf, sc, args) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from ..store import open_store
    from ..store.observations import save_observations

    try:
        with open_store(args.db) as store:
            oid = save_observations(store, rf.observations, sc, entered_by=args.entered_by,
                                    source=args.source or rf.observations.meta.get("source") or args.observations)
            note = (f"re-forecast from period {rf.observed_until} on observation set {oid} "
                    f"({rf.observations.content_hash[:12]}). {args.note or ''}").strip()
            run_id = store.save_run(rf.run.to_dict(), dict(rf.run.metrics), tags=["reforecast", *(args.tag or [])],
                                    note=note)
            where = store.url
    except (UsageError, SQLAlchemyError) as e:
        raise UsageError(f"re-forecast not saved: {str(e).splitlines()[0]}") from None
    print(f"saved observations as set {oid} and the re-forecast as run {run_id} in {where}")


def register(sub) -> None:
    o = sub.add_parser("observe", help="write synthetic observations of a contract from a chosen truth")
    o.add_argument("file", help="scenario YAML file")
    o.add_argument("--set", action="append", metavar="NAME=VALUE", help="fix a parameter of the truth (repeatable); "
                                                                       "the others are drawn from their priors")
    o.add_argument("--until", type=int, required=True, metavar="PERIOD",
                   help="observe periods 0 .. PERIOD-1")
    o.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    o.add_argument("--out", metavar="CSV", help="write the observations here (default: standard output)")
    o.add_argument("-q", "--quiet", action="store_true")
    o.set_defaults(func=cmd_observe)
    r = sub.add_parser("reforecast", help="update the priors from a contract's observations and re-forecast the rest")
    r.add_argument("file", help="scenario YAML file")
    r.add_argument("observations", help="observations CSV (docs/monitoring.md)")
    r.add_argument("--trials", type=int, default=10_000, help="Monte Carlo trials (default 10,000)")
    r.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    r.add_argument("--draws", type=int, help="posterior particles (default: as many as trials)")
    r.add_argument("--method", choices=("auto", "importance", "smc"), default="auto",
                   help="posterior method (default auto: importance sampling, SMC when its diagnostics fail)")
    r.add_argument("--json", metavar="OUT", help="write the re-forecast's JSON")
    r.add_argument("--finance", metavar="MODELS", help="comma-separated finance models to run besides the "
                                                       "scenario's own, e.g. pbr,fee")
    r.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    r.add_argument("--save", action="store_true", help="save the observations and the re-forecast in the evidence base")
    r.add_argument("--db", metavar="URL", help="evidence base (default $SIBSIM_DB, else ./evidence.db)")
    r.add_argument("--entered-by", default="sibsim reforecast", help="who entered the observations (with --save)")
    r.add_argument("--source", help="where the observations come from (with --save; default the file's name)")
    r.add_argument("--tag", action="append", metavar="TAG", help="tag the saved re-forecast run (repeatable)")
    r.add_argument("--note", metavar="TEXT", default="", help="a note on the saved re-forecast run")
    r.set_defaults(func=cmd_reforecast)
