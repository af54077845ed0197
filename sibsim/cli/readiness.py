"""``sibsim readiness`` (can a provider of a given size carry the contract?) and ``sibsim size`` (contract size)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError
from .run import add_scenario_args, load_scenario


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and x != x:
        return None
    return x


def write_json(path: str, data: dict) -> None:
    """Write JSON (NaN as null) via a temporary file and rename: never half a file."""
    p = Path(path)
    if not p.resolve().parent.is_dir():
        raise UsageError(f"--json {path}: directory {p.resolve().parent} does not exist")
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        tmp.write_text(json.dumps(_clean(data), indent=2) + "\n")
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)


def _money(v) -> str:
    return "-" if v is None or v != v else f"{v:,.0f}"


def _pct(v) -> str:
    return "-" if v is None or v != v else f"{100 * v:.1f}%"


def when(period: float, name: str) -> str:
    return "-" if period != period else f"{name} {int(period) + 1}"


def table(r) -> str:
    from ..readiness import MODEL_LABELS

    rows = [("finance model", "P(insolvent)", f"reserves for {_pct(r.risk)}", "peak working capital P50",
             "P95", "deepest in", "turnover at risk")]
    for m in r.models:
        rows.append((MODEL_LABELS.get(m.model, m.model), f"{_pct(m.p_insolvency)} ± {_pct(m.p_insolvency_se)}",
                     f"{_money(m.reserves_needed)} ± {_money(m.reserves_mcse)}", _money(m.peak_working_capital_p50),
                     _money(m.peak_working_capital_p95), when(m.peak_period_p50, r.period),
                     _pct(m.turnover_share_var)))
    w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def cmd_readiness(args) -> int:
    from ..readiness import readiness

    if args.trials < 1:
        raise UsageError(f"--trials must be at least 1; got {args.trials}")
    if not 0 < args.risk < 1:
        raise UsageError(f"--risk must be a probability between 0 and 1 (exclusive); got {args.risk}")
    models = [m.strip() for m in args.finance.split(",") if m.strip()]
    sc = load_scenario(args)
    r = readiness(sc, trials=args.trials, seed=args.seed, risk=args.risk, models=models,
                  reserves=args.provider_reserves, annual_turnover=args.turnover,
                  overdraft_limit=args.overdraft_limit)
    if args.json:
        write_json(args.json, r.to_dict())
    if not args.quiet:
        p = sc.finance.provider
        print(f"{r.scenario}: provider readiness, {r.trials:,} trials, seed {r.seed} (amounts in {r.currency})")
        res = r.models[0].reserves if r.models else None
        turn = "not given (--turnover)" if r.annual_turnover is None else _money(r.annual_turnover)
        print(f"Provider reserves {_money(res)}; annual turnover {turn}. "
              f"Target: P(insolvency) at most {_pct(r.risk)}.")
        print(table(r))
        print(f"P(insolvent): at the reserves above. Reserves for {_pct(r.risk)}: the least that keeps P(insolvency) "
              f"at or below it (± Monte Carlo error). Peak working capital: the deepest the contract's cash goes "
              f"before reserves. Turnover at risk: the loss exceeded in {_pct(r.risk)} of trials, as a share of a "
              f"year's turnover.")
    return 0


def cmd_size(args) -> int:
    from ..scale import crossover, size_sweep, table

    try:
        factors = [float(x) for x in args.factors.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--factors expects numbers separated by commas; got {args.factors!r}") from None
    if not factors or any(not f > 0 for f in factors):
        raise UsageError(f"--factors must be numbers > 0; got {args.factors!r}")
    if args.trials < 2:
        raise UsageError(f"--trials must be at least 2; got {args.trials}")
    models = tuple(m.strip() for m in args.finance.split(",") if m.strip())
    if "sib" not in models:
        raise UsageError(f"--finance must include sib (the crossovers are the SIB's); got {args.finance!r}")
    sc = load_scenario(args)
    sw = size_sweep(sc, sorted(factors), trials=args.trials, seed=args.seed, models=models)
    cross = [crossover(sw, m) for m in models if m != "sib"]
    t = table(sw)
    rows = [("participants", *(f"{m} value" for m in models), *(f"P(sib > {m})" for m in models if m != "sib"),
             "best for commissioner", "best for provider")]
    for _, r in t.iterrows():
        rows.append((f"{r['participants']:,.0f}", *(_money(r[f"{m}_vfm"]) for m in models),
                     *(_pct(r[f"p_sib_better_than_{m}"]) for m in models if m != "sib"),
                     r["best_for_commissioner"], r["best_for_provider"]))
    w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w[i]) for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    what = "commissioner NPV" if sw.metric == "commissioner_npv" else "minus public cost (PV)"
    print(f"{sc.name}: value for money ({what}, mean) by contract size, {args.trials:,} trials, seed {args.seed}")
    print("\n".join(lines))
    for c in cross:
        where = ("not within the sizes swept" if c["participants"] != c["participants"] else
                 f"{c['participants']:,.0f} participants (90% Monte Carlo interval {c['p5']:,.0f} to {c['p95']:,.0f})")
        print(f"SIB overtakes {c['other']}: {where}; per trial P5-P95 {c['trial_p5']:,.0f} to {c['trial_p95']:,.0f}, "
              f"never within range in {_pct(c['trial_share_no_crossing'])} of trials")
    if args.png:
        from ..plots.readiness import size_curves

        size_curves(sw, cross).savefig(args.png, dpi=110)
    if args.json:
        write_json(args.json, {"table": t.to_dict(orient="records"), "crossovers": cross})
    return 0


def register(sub) -> None:
    z = sub.add_parser("size", help="value for money by contract size: where a SIB overtakes the alternatives")
    add_scenario_args(z, trials_default=2_000)
    z.add_argument("--factors", default="0.25,0.5,1,2,4", help="cohort size multipliers (default 0.25,0.5,1,2,4)")
    z.add_argument("--finance", default="sib,pbr,fee", metavar="MODELS", help="models (default sib,pbr,fee)")
    z.add_argument("--png", metavar="OUT", help="write the figure")
    z.add_argument("--json", metavar="OUT", help="write the table and crossovers as JSON")
    z.set_defaults(func=cmd_size)
    p = sub.add_parser("readiness", help="reserves, working capital and turnover at risk for the provider, by finance model")
    add_scenario_args(p)
    p.add_argument("--provider-reserves", type=float, metavar="AMOUNT",
                   help="the provider's reserves (default: the scenario's finance.provider.reserves)")
    p.add_argument("--turnover", type=float, metavar="AMOUNT",
                   help="the provider's annual turnover (default: finance.provider.annual_turnover)")
    p.add_argument("--overdraft-limit", type=float, metavar="AMOUNT",
                   help="the most the provider can borrow (default: finance.provider.overdraft_limit)")
    p.add_argument("--risk", type=float, default=0.05, help="acceptable P(insolvency) (default 0.05)")
    p.add_argument("--finance", default="sib,pbr,fee,hybrid", metavar="MODELS",
                   help="comma-separated finance models (default sib,pbr,fee,hybrid)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_readiness)
