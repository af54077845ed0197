"""``sibsim run``, ``sibsim validate`` and ``sibsim schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import UsageError

KEY_METRICS = [  # which outputs the summary shows (labels, units and parties: sibsim.outputs)
    "outcome_payments", "counterfactual_payments", "deadweight_share", "cost_per_additional_outcome",
    "delivery_cost", "commissioner_cost", "public_cost", "public_cost_per_additional_outcome", "deadweight_paid",
    "commissioner_cost_pv", "commissioner_npv", "provider_surplus", "provider_min_cash", "provider_min_balance",
    "investor_net_gain", "investor_moic", "investor_irr",
]


def key_metrics(names) -> list[str]:
    """The key outputs among ``names``: the list above, additional outcomes and delivery figures."""
    names = list(names)
    keep = [m for m in KEY_METRICS if m in names] + [m for m in names if m.startswith("additional_outcomes.")]
    return keep + [m for m in names if m.startswith("delivery.") and m != "delivery.events"]


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


def summary_text(metrics: dict, probabilities: dict, *, names: list[str] | None = None, symbol: str = "") -> str:
    """Summaries (``{name: {mean, mcse, p5, p50, p95, nan}}``) and probabilities as text, grouped by party.

    Labels, units and parties come from :mod:`sibsim.outputs`; the last column is the output's name
    (what ``--output``, ``--target`` and the JSON use). Acceptability-curve points are counted, not listed.
    """
    from .. import outputs
    from ..views import format_table

    names = key_metrics(metrics) if names is None else names
    rows = [("output", "mean", "± mcse", "P5", "P50", "P95", "undefined", "name")]
    for party, group in outputs.by_party(names).items():
        rows.append((outputs.PARTIES[party].upper(), *[""] * 7))
        for m in group:
            x = metrics[m]
            rows.append(("  " + outputs.label(m), *(outputs.fmt_output(m, x[k], symbol=symbol)
                                                    for k in ("mean", "mcse", "p5", "p50", "p95")),
                         f"{x['nan']:,}", m))
    lines = [format_table(rows, right={1, 2, 3, 4, 5, 6}), ""]
    curve = [k for k in probabilities if outputs.curve_point(k) is not None]
    for k, v in sorted(((k, v) for k, v in probabilities.items() if k not in curve),
                       key=lambda kv: (list(outputs.PARTIES).index(outputs.party(kv[0])), kv[0])):
        lines.append(f"{outputs.probability_label(k)} = {outputs.fmt(v['p'], 'probability')} "
                     f"± {outputs.fmt(v['se'], 'probability')}  [{k}]")
    if curve:
        lines.append(f"(and {len(curve)} acceptability-curve probabilities vfm.*@<willingness to pay> in --json)")
    return "\n".join(lines)


def summary_table(run) -> str:
    """The run's own-model summary; with other finance models, their comparison by party and paired differences."""
    from .. import views

    text = summary_text(run.metric_summaries(), run.probabilities())
    if len(run.finance_models) > 1:
        text += ("\n\nFinance models on the same draws, by party (" + run.finance_models[0] + ": the scenario's own)\n"
                 + views.party_text(views.model_results(run)) + "\n\n" + views.differences_text(run)
                 + "\n± : standard error of the paired difference (same draws)")
    return text


def cmd_run(args) -> int:
    import sibsim

    for name in ("trials", "chunk", "workers"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UsageError(f"--{name} must be at least 1; got {v}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    from .report import check_outputs

    check_keep(args)
    check_outputs(args)
    sc = load_scenario(args)
    if getattr(args, "save", False):
        from .evidence import check_store

        check_save_args(sc, args)  # a tag, note or name the store would refuse fails now, not after the run
        check_store(args)  # a wrong database fails before the simulation, not after
    finance = [f.strip() for f in (args.finance or "").split(",") if f.strip()]
    keep = getattr(args, "keep", "all")
    more = {"keep": keep, "reservoir": args.reservoir} if keep == "summary" else {}
    run = sibsim.simulate(sc, trials=args.trials, seed=args.seed, chunk=args.chunk, workers=args.workers,
                          progress=sys.stderr.isatty() or args.progress, finance=finance, **more)
    if not args.quiet:
        cur = sc.currency
        print(f"{printable(sc.name)}: {run.trials:,} trials, seed {run.seed}, {run.engine_seconds:.2f} s "
              f"(amounts in {cur})")
        print(summary_table(run))
        if run.kept == "summary":
            print(keep_note(run))
    save_then_write(run, args)
    return 0


def check_keep(args) -> None:
    """``--keep summary`` keeps no per-trial results: what needs them is refused before anything is simulated."""
    if getattr(args, "keep", "all") != "summary":
        if getattr(args, "reservoir", None) is not None:
            raise UsageError("--reservoir is the sample a --keep summary run keeps; give --keep summary with it")
        return
    if args.reservoir is None:
        from ..summaries import RESERVOIR_SIZE

        args.reservoir = RESERVOIR_SIZE
    if args.reservoir < 1:
        raise UsageError(f"--reservoir must be at least 1; got {args.reservoir}")
    for opt, why in (("csv", "writes one row per trial"), ("save", "stores every trial in the evidence base"),
                     ("xlsx", "reads every trial (its charts and tables)"),
                     ("pdf", "reads every trial (its charts and tables)")):
        if getattr(args, opt, None):
            raise UsageError(f"--{opt} {why}; --keep summary keeps summaries only: use --keep all (the default) "
                             f"with --{opt}")


def keep_note(run) -> str:
    """What a summary-only run's table rests on (``--keep summary``)."""
    st = run.stats
    if st.exact_percentiles:
        return (f"(--keep summary: every figure from all {run.trials:,} trials; the reservoir of {st.size:,} "
                "holds them all, so P5/P50/P95 are exact)")
    return (f"(--keep summary: means, mcse, undefined counts and probabilities from all {run.trials:,} trials; "
            f"P5/P50/P95 from a uniform sample of {st.size:,} trials, each within about "
            f"{100 * (0.05 * 0.95 / st.size) ** 0.5:.2f} (P5, P95) and {100 * (0.25 / st.size) ** 0.5:.2f} (P50) "
            "percentage points of rank)")


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
                        "e.g. sib,pbr,fee,hybrid; prints a table by party and writes models: {...} in --json")
    p.add_argument("--chunk", type=int, help="trials computed at once (memory; results do not depend on it)")
    p.add_argument("--workers", type=int, help="worker processes (default: all cores for large runs)")
    p.add_argument("--keep", choices=("all", "summary"), default="all",
                   help="all (default): keep every trial's results; summary: keep running summaries and a "
                        "uniform sample of trials (memory does not grow with --trials; no --csv or --save)")
    p.add_argument("--reservoir", type=int, metavar="N",
                   help="with --keep summary: trials kept for the percentiles (default 100,000)")
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
