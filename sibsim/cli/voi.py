"""``sibsim voi`` (value of information) and ``sibsim measurement-design``: thin shells over sibsim.valueinfo.

Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError


def _write_atomic(path: str, text: str) -> None:
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)


def _check_out(path: str | None, opt: str) -> None:
    if path and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"--{opt} {path}: directory {Path(path).resolve().parent} does not exist")


def _floats(text: str, opt: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--{opt} expects comma-separated numbers; got {text!r}") from None


def _pairs(text: str | None, opt: str, allowed: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        k, eq, v = item.partition("=")
        if not eq or k.strip() not in allowed:
            raise UsageError(f"--{opt}: expects NAME=VALUE with NAME one of {', '.join(allowed)}; got {item!r}")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise UsageError(f"--{opt} {k.strip()}: value must be a number; got {v!r}") from None
    return out


def _money(v) -> str:
    return "-" if v is None or v != v else f"{v:,.0f}"


def cmd_voi(args) -> int:
    from ..valueinfo import Population, Study, StudyCost, voi
    from .run import load_scenario

    if args.trials < 2:
        raise UsageError(f"--trials must be at least 2; got {args.trials}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    _check_out(args.json, "json")
    pop = _pairs(args.population, "population", ("decisions_per_year", "years", "discount_rate_annual"))
    if "years" in pop:
        pop["years"] = int(pop["years"])
    study = _pairs(args.study, "study", ("comparison_size", "pilot_size", "measurement_periods"))
    study = Study(outcome=args.study_outcome, **{k: int(v) for k, v in study.items()})
    cost = StudyCost(**_pairs(args.study_cost, "study-cost", ("fixed", "per_comparison", "per_participant",
                                                                "per_period")))
    sc = load_scenario(args)
    res = voi(sc, options=args.options, wtp=args.wtp, evppi=args.evppi, evsi=args.evsi, study=study,
              study_cost=cost, population=Population(**pop), trials=args.trials, seed=args.seed)
    d = res.to_dict()
    if not args.quiet:
        cur = sc.currency
        print(f"{sc.name}: value of information, {res.decision.trials:,} trials, seed {args.seed} "
              f"(per decision, {cur}; population factor {res.population.factor:.3g})")
        head = ["", *(f"wtp {k}" for k in d["wtp"])]
        rows = [head, ["best option", *(d["best"][k] for k in d["wtp"])],
                ["EVPI", *(_money(d["evpi"][k]) for k in d["wtp"])],
                ["  ± se", *(_money(d["evpi_se"][k]) for k in d["wtp"])],
                ["population EVPI", *(_money(d["population_evpi"][k]) for k in d["wtp"])]]
        rows += [[f"EVPPI {n}", *(f"{_money(v[k])} ± {_money(d['evppi_se'][n][k])}" for k in d["wtp"])]
                 for n, v in d["evppi"].items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for j, r in enumerate(rows):
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
            if j == 0:
                print("-" * (sum(widths) + 2 * len(widths) - 2))
        if "evsi" in d:
            e = d["evsi"]
            print(f"\nEVSI and ENBS over {e['field']} (population values, {cur}):")
            for k, c in e["by_wtp"].items():
                best = c["optimal"]
                print(f"  wtp {k}: optimal {e['field']} = {best if best is not None else 'none (no study pays)'}")
                for s, v, cc in zip(e["sizes"], c["evsi"], e["cost"]):
                    print(f"    {s:>8,}: EVSI {_money(v)}, cost {_money(cc)}, ENBS {_money(v - cc)}")
    if args.json:
        _write_atomic(args.json, json.dumps(d_finite(d), indent=2) + "\n")
    return 0


def d_finite(d):
    from ..valueinfo.analysis import _finite

    return _finite(d)


def cmd_design(args) -> int:
    from ..valueinfo import design
    from .run import load_scenario

    _check_out(args.json, "json")
    sizes = _floats(args.sizes, "sizes")
    scales = _floats(args.trigger_scales, "trigger-scales")
    if not sizes or min(sizes) <= 0:
        raise UsageError(f"--sizes must be numbers > 0; got {args.sizes!r}")
    if not scales or min(scales) < 0:
        raise UsageError(f"--trigger-scales must be numbers >= 0; got {args.trigger_scales!r}")
    sc = load_scenario(args)
    rows = design.evaluate(sc, sizes=sizes, trigger_scales=scales, trials=args.trials, seed=args.seed,
                           cost_per_member=args.cost_per_member)
    best = design.recommend(rows, max_pay_no_effect=args.max_pay_no_effect,
                            max_no_pay_at_target=args.max_no_pay_at_target)
    df = design.frame(rows)
    if not args.quiet:
        print(f"{sc.name}: measurement design ({design.size_field(sc)} x trigger scale), {args.trials:,} trials")
        show = df[["size", "trigger_scale", "p_pay_no_effect", "p_no_pay_at_target", "expected_overpayment",
                   "evaluation_cost"]]
        print(show.to_string(index=False, formatters={
            "p_pay_no_effect": "{:.3f}".format, "p_no_pay_at_target": "{:.3f}".format,
            "expected_overpayment": "{:,.0f}".format, "evaluation_cost": "{:,.0f}".format}))
        if best is None:
            print(f"\nNo design meets P(pay when no effect) <= {args.max_pay_no_effect} and "
                  f"P(no pay at target) <= {args.max_no_pay_at_target}.")
        else:
            print(f"\nRecommended: {design.size_field(sc)} {best.size:g}, trigger scale {best.trigger_scale:g} "
                  f"(P(pay when no effect) {best.p_pay_no_effect:.3f}, P(no pay at target) "
                  f"{best.p_no_pay_at_target:.3f}, expected overpayment + evaluation cost "
                  f"{best.expected_overpayment + best.evaluation_cost:,.0f})")
    if args.json:
        out = {"scenario": sc.name, "size_field": design.size_field(sc), "trials": args.trials, "seed": args.seed,
               "limits": {"max_pay_no_effect": args.max_pay_no_effect,
                          "max_no_pay_at_target": args.max_no_pay_at_target},
               "designs": df.to_dict(orient="records"), "recommended": None if best is None else vars(best)}
        _write_atomic(args.json, json.dumps(d_finite(out), indent=2) + "\n")
    return 0


def register(sub) -> None:
    from .run import add_scenario_args

    p = sub.add_parser("voi", help="value of information: EVPI, EVPPI per parameter, EVSI of a study")
    add_scenario_args(p, trials_default=4_000)
    p.add_argument("--options", default="sib,pbr,fee,none",
                   help="options compared: finance models and 'none' (default sib,pbr,fee,none)")
    p.add_argument("--wtp", help="willingness to pay per additional outcome, comma-separated, or 'appraisal' "
                                 "(default: the scenario's appraisal wtp_grid, plus 'appraisal')")
    p.add_argument("--evppi", help="parameters, groups joined by '+', or 'all' (default: each uncertain parameter)")
    p.add_argument("--evsi", metavar="FIELD=START:STOP:STEP",
                   help="study sizes, e.g. comparison_size=100:2000:100 (fields: comparison_size, pilot_size, "
                        "measurement_periods)")
    p.add_argument("--study", help="the study's other fields, e.g. pilot_size=100,comparison_size=500")
    p.add_argument("--study-outcome", help="outcome the study measures (default: the first measured or counted)")
    p.add_argument("--study-cost", help="fixed=20000,per_comparison=20,per_participant=1500,per_period=0")
    p.add_argument("--population", help="decisions_per_year=1,years=1,discount_rate_annual=0.035")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_voi)

    m = sub.add_parser("measurement-design",
                       help="comparison-group size and trigger of a measured-outcome contract against its risks")
    add_scenario_args(m, trials_default=2_000)
    m.add_argument("--sizes", default="1,2,5,10", help="comparison sizes (the scenario's own kind: members per "
                                                       "cohort or per participant)")
    m.add_argument("--trigger-scales", default="0.75,1,1.25", help="multipliers of every point's trigger")
    m.add_argument("--cost-per-member", type=float, default=50.0, help="evaluation cost per comparison member")
    m.add_argument("--max-pay-no-effect", type=float, default=0.05, help="risk limit: P(pay when no effect)")
    m.add_argument("--max-no-pay-at-target", type=float, default=0.2, help="risk limit: P(no pay at target)")
    m.add_argument("--json", metavar="OUT", help="write the design table and recommendation as JSON")
    m.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    m.set_defaults(func=cmd_design)
