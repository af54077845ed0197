"""``sibsim run``, ``sibsim validate`` and ``sibsim schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import UsageError

KEY_METRICS = [
    "outcome_payments", "counterfactual_payments", "deadweight_share", "cost_per_additional_outcome",
    "delivery_cost", "investor_net_gain", "investor_moic", "investor_irr", "commissioner_cost_pv",
    "provider_min_cash", "provider_min_balance", "commissioner_npv",
]


def parse_sets(items: list[str] | None) -> dict[str, float]:
    """``["name=value", ...]`` -> {name: float}; exits 2 (UsageError) on a malformed item."""
    out = {}
    for item in items or []:
        name, eq, val = item.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--set expects name=value; got {item!r}")
        try:
            out[name.strip()] = float(val)
        except ValueError:
            raise UsageError(f"--set {name.strip()}: value must be a number; got {val!r}") from None
    return out


def add_scenario_args(p, *, trials_default: int = 10_000):
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--trials", type=int, default=trials_default, help=f"Monte Carlo trials (default {trials_default:,})")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="fix a named parameter at a value (repeatable)")


def load_scenario(args):
    import sibsim

    sc = sibsim.load(args.file)
    sets = parse_sets(getattr(args, "set", None))
    return sc.with_params(**sets) if sets else sc


def _fmt(v: float, money: bool) -> str:
    if v is None or v != v:
        return "-"
    if money:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:,.0f}"


def summary_table(run) -> str:
    s = run.metric_summaries()
    names = [m for m in KEY_METRICS if m in s] + [m for m in s if m.startswith("additional_outcomes.")]
    names += [m for m in s if m.startswith("delivery.") and m not in ("delivery.events", "delivery.fast_path")]
    rows = [("metric", "mean", "± mcse", "P5", "P50", "P95", "undefined")]
    for m in names:
        x = s[m]
        money = m not in ("deadweight_share", "investor_moic", "investor_irr") and not m.startswith(("additional", "delivery."))
        rows.append((m, _fmt(x["mean"], money), _fmt(x["mcse"], money), _fmt(x["p5"], money),
                     _fmt(x["p50"], money), _fmt(x["p95"], money), str(x["nan"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    probs = run.probabilities()
    lines.append("")
    curve = [k for k in probs if k.startswith("vfm.") and "@" in k]
    for k, v in probs.items():
        if k not in curve:
            lines.append(f"P({k}) = {v['p']:.3f} ± {v['se']:.3f}")
    if curve:
        lines.append(f"(and {len(curve)} acceptability-curve probabilities vfm.*@<willingness to pay> in --json)")
    return "\n".join(lines)


def cmd_run(args) -> int:
    import sibsim

    for name in ("trials", "chunk", "workers"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UsageError(f"--{name} must be at least 1; got {v}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    from .report import check_outputs

    check_outputs(args)
    sc = load_scenario(args)
    if getattr(args, "save", False):
        from .evidence import check_store

        check_save_args(sc, args)  # a tag, note or name the store would refuse fails now, not after the run
        check_store(args)  # a wrong database fails before the simulation, not after
    finance = [f.strip() for f in (args.finance or "").split(",") if f.strip()]
    run = sibsim.simulate(sc, trials=args.trials, seed=args.seed, chunk=args.chunk, workers=args.workers,
                          progress=sys.stderr.isatty() or args.progress, finance=finance)
    if not args.quiet:
        cur = sc.currency
        print(f"{printable(sc.name)}: {run.trials:,} trials, seed {run.seed}, {run.engine_seconds:.2f} s "
              f"(amounts in {cur})")
        print(summary_table(run))
    save_then_write(run, args)
    return 0


def check_save_args(sc, args) -> None:
    """What ``--save`` would store (name, seed, trials, tags, note), checked as the store checks it."""
    from ..store.checks import check_save

    check_save(name=sc.name, seed=args.seed, trials=args.trials, tags=args.tag or [], note=args.note or "")


def printable(text: str) -> str:
    """``text`` as typed if plain, else repr-escaped: no terminal escape sequence or newline printed raw."""
    return text if text.isprintable() else repr(text)


def run_outputs(run, args) -> list:
    """(option, path, write) of every file ``sibsim run`` was asked to write."""
    from .report import report_outputs

    items = []
    if args.json:
        items.append(("json", args.json, lambda p: Path(p).write_text(run.to_json() + "\n")))
    if args.csv:
        items.append(("csv", args.csv, lambda p: run.to_frame().to_csv(p, index=True)))
    return items + report_outputs(run, args)


def save_then_write(run, args) -> None:
    """Once simulated: save to the evidence base first, then write every file (all or none)."""
    from .report import wrote, write_outputs

    items = run_outputs(run, args)
    if getattr(args, "save", False):
        from .evidence import save_run

        try:
            save_run(run, args)
        except BaseException:
            write_outputs(items)  # the run is not lost: its files are written before the error is reported
            raise
    write_outputs(items)
    wrote(items, args)


def _write_atomic(path: str, text: str, opt: str = "json") -> None:
    """Write ``--opt path`` via a temporary file and rename, so a failure never leaves half a file."""
    from .report import write_outputs

    write_outputs([(opt, path, lambda p: Path(p).write_text(text))])


def cmd_validate(args) -> int:
    import sibsim

    sc = sibsim.load(args.file)
    print(f"{args.file}: valid scenario '{sc.name}' ({len(sc.parameters)} parameters, {len(sc.outcomes)} outcomes)")
    return 0


def cmd_schema(args) -> int:
    from ..spec import Scenario

    print(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("run", help="simulate a scenario and summarise the results")
    add_scenario_args(p)
    p.add_argument("--json", metavar="OUT", help="write the run's JSON (summaries, probabilities, provenance)")
    p.add_argument("--csv", metavar="OUT", help="write per-trial metrics as CSV")
    from .report import add_report_args

    add_report_args(p)
    p.add_argument("--finance", metavar="MODELS",
                   help="comma-separated finance models to run on the same draws besides the scenario's own, "
                        "e.g. sib,pbr,fee,hybrid; their metrics are prefixed (pbr.provider_min_cash)")
    p.add_argument("--chunk", type=int, help="trials computed at once (memory; results do not depend on it)")
    p.add_argument("--workers", type=int, help="worker processes (default: all cores for large runs)")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.add_argument("--save", action="store_true", help="save the run in the evidence base and print its id")
    p.add_argument("--db", metavar="URL", help="evidence base: SQLAlchemy URL or SQLite file (default $SIBSIM_DB, "
                                                "else ./evidence.db)")
    p.add_argument("--tag", action="append", metavar="TAG", help="tag the saved run (repeatable)")
    p.add_argument("--note", metavar="TEXT", default="", help="a note on the saved run")
    p.set_defaults(func=cmd_run)
    v = sub.add_parser("validate", help="check a scenario file")
    v.add_argument("file")
    v.set_defaults(func=cmd_validate)
    s = sub.add_parser("schema", help="print the scenario format as JSON Schema")
    s.set_defaults(func=cmd_schema)
