"""Results per finance model and comparisons by party (issue 16's Done-when list), old saved runs, paired errors."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

import sibsim
from sibsim import outputs, spec, views
from sibsim.store import open_store
from sibsim.store.runs import parquet_bytes

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
LCF = ROOT / "scenarios" / "life_chances_fund.yaml"
BENCH = ROOT / "scenarios" / "benchmark.yaml"
INVESTOR = [o.name for o in outputs.DECLARED if o.party == "investor" and "<" not in o.name]


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch):
    monkeypatch.delenv("SIBSIM_DB", raising=False)


@pytest.fixture(scope="module")
def lcf_run():
    return sibsim.simulate(LCF, trials=10_000, seed=1, finance=("sib", "pbr", "fee", "hybrid"))


def test_lcf_json_has_four_models_with_their_own_commissioner_cost(tmp_path, capsys, lcf_run):
    out = tmp_path / "run.json"
    code, text_, err = cli(capsys, "run", str(LCF), "--trials", "10000", "--seed", "1",
                           "--finance", "sib,pbr,fee,hybrid", "--json", str(out))
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["format"] == 2 and list(data["models"]) == ["sib", "pbr", "fee", "hybrid"]
    means = {m: r["metrics"]["commissioner_cost"]["mean"] for m, r in data["models"].items()}
    for m, r in data["models"].items():  # as the engine computes them, on the same draws
        assert means[m] == pytest.approx(float(lcf_run.model(m).metrics["commissioner_cost"].mean()), rel=1e-12)
        assert r["metrics"]["public_cost"]["mean"] == pytest.approx(
            float(lcf_run.model(m).metrics["public_cost"].mean()), rel=1e-12)
        assert {"commissioner_cost", "public_cost", "provider_surplus"} <= set(r["metrics"])
        assert "insolvency" in r["probabilities"]
    assert len({round(v) for v in means.values()}) == 4  # the models differ (SIB 415k, PbR 462k, hybrid 472k, fee 494k)
    assert [round(means[m], -3) for m in ("sib", "pbr", "hybrid", "fee")] == [415_000, 462_000, 472_000, 494_000]
    for m in ("fee", "pbr", "hybrid"):
        assert not set(INVESTOR) & (set(data["models"][m]["metrics"]) | set(data["models"][m]["probabilities"])), m
    assert {"investor_irr", "investor_moic"} <= set(data["models"]["sib"]["metrics"])
    assert data["metrics"]["commissioner_cost"] == data["models"]["sib"]["metrics"]["commissioner_cost"]

    # the CLI prints the same table: a column per model, commissioner cost in each, "no investor" where none
    table = text_[text_.index("Finance models on the same draws"):]
    header = table.splitlines()[1].split()
    assert header == ["sib", "pbr", "fee", "hybrid"]
    row = next(line for line in table.splitlines() if line.strip().startswith("Commissioner cost, mean"))
    assert row.split()[-4:] == [outputs.fmt(means[m], "currency") for m in ("sib", "pbr", "fee", "hybrid")]
    irr = next(line for line in table.splitlines() if line.strip().startswith("Investor IRR"))
    assert irr.count("no investor") == 3 and "%" in irr.split("no investor")[0]
    assert "P(provider insolvency)" in table and "standard error of the paired difference" in table


def test_an_output_a_model_lacks_is_absent_not_zero(lcf_run):
    assert "investor_irr" not in lcf_run.model("fee").metrics
    assert "investor_loss" not in lcf_run.model("pbr").indicators
    assert not lcf_run.model("hybrid").has_investors and lcf_run.model("sib").has_investors
    rows = views.party_table(views.model_results(lcf_run))
    inv = [cells for party, _, cells in rows if party == outputs.PARTIES["investor"]]
    assert inv and all(c["fee"] == views.NO_INVESTOR and c["sib"] != views.NO_INVESTOR for c in inv)
    # shared outputs are the same object under every model: one set of draws
    assert lcf_run.model("pbr").metrics["outcome_payments"] is lcf_run.model("fee").metrics["outcome_payments"]


def test_paired_difference_against_a_hand_computation():
    rng = np.random.default_rng(3)
    a = rng.normal(100, 30, 500)
    b = a + rng.normal(5, 2, 500)
    a[7] = np.nan  # a trial undefined in one run is left out of the pairs
    d = views.paired_difference(a, b)
    pairs = [(x, y) for x, y in zip(a, b) if not math.isnan(x)]
    diffs = [y - x for x, y in pairs]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((v - mean) ** 2 for v in diffs) / (len(diffs) - 1))
    assert d["n"] == 499 and d["difference"] == pytest.approx(mean, rel=1e-12)
    assert d["se"] == pytest.approx(sd / math.sqrt(499), rel=1e-12)


def _price_changed(sc, outcome: str, price: float):
    data = spec.to_dict(sc)
    data["rate_card"]["prices"][outcome] = price
    return spec.validate(data)


def test_evidence_compare_of_same_seed_runs_reports_paired_standard_errors(tmp_path, capsys):
    db = str(tmp_path / "ev.db")
    sc = sibsim.load(BENCH)
    ra = sibsim.simulate(sc, trials=600, seed=4, finance=("pbr",))
    rb = sibsim.simulate(_price_changed(sc, "job_entry", 3000.0), trials=600, seed=4, finance=("pbr",))
    with open_store(db) as s:
        a, b = s.save_run(ra.to_dict(), ra.per_trial()), s.save_run(rb.to_dict(), rb.per_trial())
    code, out, err = cli(capsys, "evidence", "compare", str(a), str(b), "--db", db, "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["paired"] and got["inputs"] == [{"field": "rate_card.prices.job_entry", "a": 3500.0, "b": 3000.0}]
    for col, xa, xb in [("outcome_payments", ra.metrics["outcome_payments"], rb.metrics["outcome_payments"]),
                        ("pbr:provider_min_cash", ra.model("pbr").metrics["provider_min_cash"],
                         rb.model("pbr").metrics["provider_min_cash"])]:
        d = xb - xa  # by hand, from the per-trial results
        assert got["metrics"][col]["difference"] == pytest.approx(d.mean(), rel=1e-9, abs=1e-9)
        assert got["metrics"][col]["se"] == pytest.approx(d.std(ddof=1) / math.sqrt(d.size), rel=1e-9)
        independent = math.hypot(xa.std(ddof=1), xb.std(ddof=1)) / math.sqrt(d.size)
        assert got["metrics"][col]["se"] < independent / 3  # common random numbers: far tighter
    assert got["metrics"]["delivery_cost"]["difference"] == 0 and got["metrics"]["delivery_cost"]["se"] == 0
    ind = rb.indicators["investor_loss"].astype(float) - ra.indicators["investor_loss"].astype(float)
    assert got["probabilities"]["investor_loss"]["se"] == pytest.approx(ind.std(ddof=1) / math.sqrt(600), rel=1e-9)

    code, out, _ = cli(capsys, "evidence", "compare", str(a), str(b), "--db", db)
    assert "inputs that differ (1):" in out and "rate_card.prices.job_entry: A 3500.0, B 3000.0" in out
    assert "Provider minimum cash [pbr]" in out and "standard error of the paired difference" in out


def _old_database(path: Path, record: dict, per_trial: dict) -> str:
    """An evidence base at revision 0002 holding one run saved by a sibsim of format 1."""
    from alembic import command

    from sibsim.store.db import alembic_config

    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
        conn.execute(text(
            "INSERT INTO runs (id, name, scenario_hash, scenario_json, seed, trials, versions, created, note, "
            "metrics, probabilities, timing) VALUES (1, :name, :hash, :json, '3', :trials, '{}', :created, '', "
            ":metrics, :probs, '{}')"),
            {"name": record["scenario"]["name"], "hash": record["scenario"]["hash"],
             "json": record["scenario"]["canonical_json"], "trials": record["trials"],
             "created": datetime.now(timezone.utc), "metrics": json.dumps(record["metrics"]),
             "probs": json.dumps(record["probabilities"])})
        conn.execute(text("INSERT INTO run_per_trial (run_id, format, data) VALUES (1, 'parquet-zstd', :d)"),
                     {"d": parquet_bytes(__import__("pandas").DataFrame(per_trial))})
    engine.dispose()
    return str(path)


def test_runs_saved_in_format_1_still_open(tmp_path, capsys):
    run = sibsim.simulate(BENCH, trials=200, seed=3, finance=("pbr",))
    new = run.to_dict()
    # format 1: other models under prefixes, investor outputs (zeros) even for models without investors
    zero = {"mean": 0.0, "std": 0.0, "mcse": 0.0, "p5": 0.0, "p50": 0.0, "p95": 0.0, "nan": 0}
    old = {k: v for k, v in new.items() if k not in ("format", "models", "finance_models")}
    old["metrics"] = {**new["metrics"], **{f"pbr.{k}": v for k, v in new["models"]["pbr"]["metrics"].items()},
                      "pbr.investor_irr": zero}
    old["probabilities"] = {**new["probabilities"], "pbr.investor_loss": {"p": 0.0, "se": 0.0},
                            **{f"pbr.{k}": v for k, v in new["models"]["pbr"]["probabilities"].items()}}
    per_trial = {"outcome_payments": run.metrics["outcome_payments"],
                 "pbr.commissioner_cost": run.model("pbr").metrics["commissioner_cost"]}
    db = _old_database(tmp_path / "old.db", json.loads(json.dumps(old, default=float).replace("NaN", "null")),
                       per_trial)

    with open_store(db) as s:  # migrates to the head revision
        rec = s.get_run(1)
        trials = s.get_per_trial(1)
    assert rec["format"] == 2 and rec["finance_models"] == ["sib", "pbr"]
    assert "pbr.commissioner_cost" not in rec["metrics"]
    assert rec["models"]["pbr"]["metrics"]["commissioner_cost"] == new["models"]["pbr"]["metrics"]["commissioner_cost"]
    assert "investor_irr" not in rec["models"]["pbr"]["metrics"]  # the old zeros are dropped: absent, not zero
    assert "investor_loss" not in rec["models"]["pbr"]["probabilities"]
    assert rec["models"]["sib"]["metrics"]["investor_irr"] == new["metrics"]["investor_irr"]
    np.testing.assert_array_equal(trials["pbr:commissioner_cost"], run.model("pbr").metrics["commissioner_cost"])

    code, out, err = cli(capsys, "evidence", "show", "1", "--db", db)
    assert code == 0, err
    assert "no investor" in out and "Commissioner cost, mean" in out
    code, out, err = cli(capsys, "evidence", "rerun", "1", "--db", db, "-q")
    assert code == 0, err  # every stored number of both models regenerated exactly


def test_only_what_was_asked_is_computed(monkeypatch):
    from sibsim import finance as fin

    calls = []
    real = dict(fin.MODELS)
    monkeypatch.setitem(fin.MODELS, "fee", lambda *a: calls.append("fee") or real["fee"](*a))
    plain = sibsim.simulate(BENCH, trials=300, seed=2)  # no appraisal, no --finance: no fee, no value for money
    assert calls == [] and plain.finance_models == ("sib",)
    assert not any(outputs.curve_point(k) is not None for k in plain.indicators)
    assert "commissioner_npv" not in plain.metrics and "public_cost_pv" in plain.metrics  # no values, no NPV
    both = sibsim.simulate(BENCH, trials=300, seed=2, finance=("fee",))
    assert calls  # asked for: computed
    for k, v in plain.metrics.items():  # per-trial numbers do not depend on what else was computed
        np.testing.assert_array_equal(v, both.metrics[k], err_msg=k)
    calls.clear()
    lcf = sibsim.simulate(LCF, trials=300, seed=2)  # an appraisal compares with fee for service, not reported
    assert calls and lcf.finance_models == ("sib",) and "vfm.sib_better_than_fee@5000" in lcf.indicators


def test_run_differences_are_paired_only_on_the_same_draws():
    sc = sibsim.load(BENCH)
    a = sibsim.simulate(sc, trials=400, seed=5)
    b = sibsim.simulate(_price_changed(sc, "job_entry", 3000.0), trials=400, seed=5)
    c = sibsim.simulate(sc, trials=400, seed=6)
    d = views.run_differences({"a": a, "b": b, "c": c})
    assert d["b"]["outcome_payments"]["paired"] and not d["c"]["outcome_payments"]["paired"]
    x = b.metrics["outcome_payments"] - a.metrics["outcome_payments"]
    assert d["b"]["outcome_payments"]["se"] == pytest.approx(x.std(ddof=1) / 20, rel=1e-12)
    sa, sc_ = a.metric_summaries()["outcome_payments"], c.metric_summaries()["outcome_payments"]
    assert d["c"]["outcome_payments"]["se"] == pytest.approx(math.hypot(sa["mcse"], sc_["mcse"]), rel=1e-12)
    assert d["b"]["provider_surplus"] == {"difference": 0.0, "se": 0.0, "paired": True}  # a SIB provider: unchanged
