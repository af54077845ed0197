"""``sibsim portfolio``: an outcomes fund's spend across a portfolio of contracts."""

from __future__ import annotations

from ..errors import UsageError


def _money(v) -> str:
    return "-" if v is None or v != v else f"{v:,.0f}"


def _pct(v) -> str:
    return "-" if v is None or v != v else f"{100 * v:.1f}%"


def _rows(rows) -> str:
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def report(run) -> str:
    s = run.summary()
    pf = run.portfolio
    cur = pf.currency
    lines = [f"{pf.name}: {s['instances']} contracts, {s['trials']:,} trials, seed {s['seed']} (amounts in {cur}; "
             f"payer: {pf.payer})",
             f"Total spend: mean {_money(s['total_mean'])} ± {_money(s['total_mcse'])}, P5 {_money(s['total_p5'])}, "
             f"P50 {_money(s['total_p50'])}, P95 {_money(s['total_p95'])}"]
    ob = s["p_over_budget"]
    if pf.budget is not None:
        lines.append(f"P(spend > budget {_money(pf.budget)}) = {ob['p']:.3f} ± {ob['se']:.3f}")
    lines.append(f"Share of contracts that pay anything: {_pct(s['share_of_contracts_paying_mean'])} on average; "
                 f"every contract pays in {_pct(s['p_every_contract_pays'])} of trials")
    if "sib_contracts" in s:
        p = s["p_investors_lose_overall"]
        lines.append(f"Investors ({s['sib_contracts']} SIBs): net gain mean {_money(s['investor_net_gain_mean'])}; "
                     f"losses across contracts mean {_money(s['investor_losses_mean'])}, P95 "
                     f"{_money(s['investor_losses_p95'])}; P(investors lose overall) = {p['p']:.3f} ± {p['se']:.3f}")
    lines += ["", "Spend by calendar year"]
    t = run.by_year_table()
    lines.append(_rows([("year", "mean", "P5", "P50", "P95")] +
                       [(str(y), *(_money(r[c]) for c in ("mean", "p5", "p50", "p95"))) for y, r in t.iterrows()]))
    lines += ["", "Contracts"]
    c = run.per_contract()
    lines.append(_rows([("contract", "copies", "start", "spend (mean)", "share", "share of variance", "P(pays)",
                         "P(investor loss)")] +
                       [(name, str(r["count"]), r["start"], _money(r["spend_mean"]), _pct(r["share_of_total"]),
                         _pct(r["share_of_variance"]), _pct(r["p_pays_anything"]), _pct(r["p_investor_loss"]))
                        for name, r in c.iterrows()]))
    return "\n".join(lines)


def cmd_portfolio(args) -> int:
    from ..portfolio import simulate_portfolio
    from .readiness import write_json

    if args.trials < 1:
        raise UsageError(f"--trials must be at least 1; got {args.trials}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1; got {args.workers}")
    run = simulate_portfolio(args.file, trials=args.trials, seed=args.seed, workers=args.workers,
                             scheduler=args.scheduler)
    if args.json:
        write_json(args.json, run.to_dict())
    if args.csv:
        import pandas as pd

        cols = {f"spend.{y}": run.by_year[:, j] for j, y in enumerate(run.years)}
        cols.update({f"contract.{i.contract}.{i.copy}": run.spend[:, i.index] for i in run.instances})
        pd.DataFrame(cols).rename_axis("trial").to_csv(args.csv)
    if not args.quiet:
        print(report(run))
    return 0


def register(sub) -> None:
    p = sub.add_parser("portfolio", help="an outcomes fund's spend across a portfolio of contracts")
    p.add_argument("file", help="portfolio YAML file (e.g. portfolios/uk_fair_chance_fund.yaml)")
    p.add_argument("--trials", type=int, default=10_000, help="Monte Carlo trials (default 10,000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--workers", type=int, help="local worker processes (default 1; or Dask workers with --scheduler local, default one a core)")
    p.add_argument("--scheduler", metavar="local|tcp://HOST:PORT",
                   help="run on a Dask cluster: 'local' starts a LocalCluster; the numbers do not change")
    p.add_argument("--json", metavar="OUT", help="write the summary, spend by year and contracts as JSON")
    p.add_argument("--csv", metavar="OUT", help="write per-trial spend by year and by contract as CSV")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_portfolio)
