"""Tests for the ``sibsim`` command line, called in-process through ``sibsim.cli.main``.

One test runs the installed console script in a real process, to prove that
bad input ends with exit status 2 and a message, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sibsim.cli import main

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")
PARAMS = [
    "cost_multiplier", "engagement", "job_entry_p0", "job_entry_uplift", "job_sustained_q0",
    "job_sustained_uplift", "qualification_p0", "qualification_uplift",
]
OUTCOMES = ["job_entry", "job_sustained", "qualification"]
REQUIRED_METRICS = [
    "outcome_payments", "counterfactual_payments", "delivery_cost", "investor_net_gain", "investor_moic",
    "investor_irr", *(f"additional_outcomes.{o}" for o in OUTCOMES),
]
SUMMARY_FIELDS = {"mean", "std", "mcse", "p5", "p50", "p95", "nan"}
TRIALS = 300


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*"))


def scenario_file(tmp_path: Path, mutate=None, text: str | None = None) -> str:
    p = tmp_path / "scenario.yaml"
    if text is None:
        d = yaml.safe_load(Path(BENCHMARK).read_text())
        if mutate:
            mutate(d)
        text = yaml.safe_dump(d, sort_keys=False)
    p.write_text(text)
    return str(p)


def assert_usage_error(code: int, err: str, *words: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    assert err.strip(), "no message on stderr"
    for w in words:
        assert w in err, (w, err)


# --------------------------------------------------------------------------
# sibsim run
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """One run of the benchmark with --json and --csv, shared by the tests that read its output."""
    d = tmp_path_factory.mktemp("run")
    out, err = io.StringIO(), io.StringIO()  # capsys is per test: capture by hand
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", BENCHMARK, "--trials", str(TRIALS), "--seed", "7",
                     "--json", str(d / "run.json"), "--csv", str(d / "trials.csv")])
    return {"code": code, "out": out.getvalue(), "err": err.getvalue(), "dir": d,
            "json": json.loads((d / "run.json").read_text()), "csv": pd.read_csv(d / "trials.csv")}


def test_run_prints_the_summary_table(default_run):
    assert default_run["code"] == 0
    assert "Traceback" not in default_run["err"]
    out = default_run["out"]
    lines = out.splitlines()
    assert lines[0].startswith(f"Benchmark employment SIB: {TRIALS} trials, seed 7")
    assert "(amounts in GBP)" in lines[0]
    header = lines[1].split()
    assert header[:2] == ["output", "mean"] and {"P5", "P50", "P95", "undefined", "name"} <= set(header)
    assert set(lines[2]) == {"-"}
    from sibsim import outputs

    for m in ["outcome_payments", "counterfactual_payments", "delivery_cost", "investor_net_gain",
              "investor_moic", "investor_irr", *(f"additional_outcomes.{o}" for o in OUTCOMES)]:
        row = [line for line in lines if line.split()[-1:] == [m]]
        assert len(row) == 1 and row[0].strip().startswith(outputs.label(m)), m  # readable label, name last
    irr = next(line for line in lines if line.endswith(" investor_irr"))
    assert re.search(r"-?\d+\.\d%", irr)  # a rate per year as a percentage
    assert not re.search(r"\de[+-]\d", out)  # no scientific notation
    headings = [line for line in lines if line and line == line.upper() and line[0].isalpha()]
    assert headings[:4] == ["COMMISSIONER (PUBLIC SECTOR)", "PROVIDER", "INVESTORS", "PARTICIPANTS AND OUTCOMES"]
    assert any(re.match(r"P\(investor loss\) = \d+\.\d% ± \d+\.\d%  \[investor_loss\]", line) for line in lines)


def test_run_json_has_every_field_of_benchmark_md(default_run):
    data = default_run["json"]
    import sibsim

    sc = sibsim.load(BENCHMARK)
    assert data["scenario"]["name"] == "Benchmark employment SIB"
    assert data["scenario"]["hash"] == sc.content_hash
    assert data["seed"] == 7 and data["trials"] == TRIALS
    assert {"sibsim", "numpy", "scipy"} <= set(data["versions"])
    assert data["versions"]["sibsim"] == sibsim.__version__
    for m in REQUIRED_METRICS:
        s = data["metrics"][m]
        assert SUMMARY_FIELDS <= set(s), m
        # every summary recomputed from the per-trial CSV of the same run (its own column, written separately)
        col = default_run["csv"][m].to_numpy(dtype=float)
        ok = col[~np.isnan(col)]
        assert s["nan"] == TRIALS - ok.size and isinstance(s["nan"], int), m
        assert ok.size > TRIALS // 2, m
        sd = ok.std(ddof=1)
        assert s["mean"] == pytest.approx(ok.mean(), rel=1e-12, abs=1e-9), m
        assert s["std"] == pytest.approx(sd, rel=1e-9), m
        assert s["mcse"] == pytest.approx(sd / np.sqrt(ok.size), rel=1e-9), m
        for q in (5, 50, 95):
            assert s[f"p{q}"] == pytest.approx(np.percentile(ok, q), rel=1e-12, abs=1e-9), (m, q)
    loss = data["probabilities"]["investor_loss"]
    lost = default_run["csv"]["investor_loss"].to_numpy(dtype=bool)
    assert lost.sum() == (default_run["csv"]["investor_net_gain"] < 0).sum()  # the indicator's definition
    p = lost.mean()
    assert 0 < p < 1  # the benchmark's investors lose in some trials and not in others
    assert loss["p"] == pytest.approx(p, rel=1e-12) and loss["se"] == pytest.approx(np.sqrt(p * (1 - p) / TRIALS))
    assert data["timing"]["engine_seconds"] > 0
    assert data["metrics"]["outcome_payments"]["mean"] > data["metrics"]["counterfactual_payments"]["mean"]


def test_run_json_agrees_with_the_python_api(default_run):
    import sibsim

    run = sibsim.simulate(BENCHMARK, trials=TRIALS, seed=7)
    op = default_run["json"]["metrics"]["outcome_payments"]
    assert op["mean"] == pytest.approx(float(run.metrics["outcome_payments"].mean()), rel=1e-12)


def test_run_csv_has_one_row_per_trial(default_run):
    df = default_run["csv"]
    assert len(df) == TRIALS
    assert list(df["trial"]) == list(range(TRIALS))
    for col in ["outcome_payments", "investor_net_gain", "investor_loss", *(f"param.{p}" for p in PARAMS)]:
        assert col in df.columns, col
    assert df["outcome_payments"].mean() == pytest.approx(default_run["json"]["metrics"]["outcome_payments"]["mean"])


def test_run_writes_no_temporary_files(default_run):
    assert sorted(p.name for p in files_under(default_run["dir"])) == ["run.json", "trials.csv"]


def test_set_fixes_a_parameter_and_lowers_payments_on_the_same_seed(tmp_path, default_run, capsys):
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", str(TRIALS), "--seed", "7", "-q",
                         "--set", "job_entry_uplift=0", "--set", "qualification_uplift=0.05",
                         "--json", str(tmp_path / "set.json"), "--csv", str(tmp_path / "set.csv"))
    assert code == 0 and out == "" and "Traceback" not in err
    fixed = json.loads((tmp_path / "set.json").read_text())
    df = pd.read_csv(tmp_path / "set.csv")
    assert (df["param.job_entry_uplift"] == 0).all() and (df["param.qualification_uplift"] == 0.05).all()
    assert (df["param.engagement"] == default_run["csv"]["param.engagement"]).all()  # others unchanged
    assert fixed["scenario"]["hash"] != default_run["json"]["scenario"]["hash"]
    assert fixed["metrics"]["outcome_payments"]["mean"] < default_run["json"]["metrics"]["outcome_payments"]["mean"]


def test_quiet_run_prints_nothing(capsys):
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "50", "-q")
    assert (code, out) == (0, "")


# --------------------------------------------------------------------------
# Bad input: exit 2, a message naming the field or value, no traceback
# --------------------------------------------------------------------------


def test_missing_file(capsys, tmp_path):
    missing = str(tmp_path / "nope.yaml")
    code, out, err = cli(capsys, "run", missing, "--trials", "10")
    assert_usage_error(code, err, missing, "no such file")


def test_malformed_yaml(capsys, tmp_path):
    f = scenario_file(tmp_path, text="name: [unclosed\nperiod: quarter\n")
    code, out, err = cli(capsys, "run", f, "--trials", "10")
    assert_usage_error(code, err, f, "not valid YAML")


def test_unknown_field_in_the_scenario(capsys, tmp_path):
    f = scenario_file(tmp_path, lambda d: d["costs"].update(bogus=1))
    code, out, err = cli(capsys, "run", f, "--trials", "10")
    assert_usage_error(code, err, "costs.bogus", "unknown field")
    code, out, err = cli(capsys, "validate", f)
    assert_usage_error(code, err, "costs.bogus", "unknown field")


def test_set_with_an_unknown_name_lists_the_names(capsys):
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "10", "--set", "job_entry_upflit=0.1")
    assert_usage_error(code, err, "job_entry_upflit", ", ".join(PARAMS))


@pytest.mark.parametrize(
    "item, words",
    [
        ("job_entry_uplift", ["--set expects name=value", "'job_entry_uplift'"]),
        ("=0.1", ["--set expects name=value", "'=0.1'"]),
        ("job_entry_uplift=abc", ["job_entry_uplift", "must be a number", "'abc'"]),
        ("job_entry_uplift=", ["job_entry_uplift", "must be a number", "''"]),
    ],
)
def test_malformed_set(capsys, item, words):
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "10", "--set", item)
    assert_usage_error(code, err, *words)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_set_nan_is_refused(capsys):
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "10", "-q", "--set", "engagement=nan")
    assert_usage_error(code, err, "engagement")


@pytest.mark.parametrize(
    "args, words",
    [
        (["--trials", "0"], ["--trials", "at least 1", "got 0"]),
        (["--trials", "-5"], ["--trials", "got -5"]),
        (["--trials", "many"], ["--trials", "invalid int value", "'many'"]),
        (["--seed", "-1"], ["--seed", "got -1"]),
        (["--chunk", "0"], ["--chunk", "got 0"]),
        (["--workers", "0"], ["--workers", "got 0"]),
    ],
)
def test_bad_numbers(capsys, args, words):
    code, out, err = cli(capsys, "run", BENCHMARK, *args)
    assert_usage_error(code, err, *words)
    assert out == ""


@pytest.mark.parametrize("option", ["--json", "--csv"])
def test_output_into_a_missing_directory_leaves_no_file(capsys, tmp_path, monkeypatch, option):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "no" / "such" / "dir" / "out.json"
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "10", option, str(target))
    assert_usage_error(code, err, option, "does not exist", str(tmp_path / "no" / "such" / "dir"))
    assert out == ""  # refused before running
    assert files_under(tmp_path) == []


def test_output_onto_a_directory_leaves_no_partial_file(capsys, tmp_path):
    (tmp_path / "out").mkdir()
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "10", "-q", "--json", str(tmp_path / "out"))
    assert_usage_error(code, err, "out")
    assert files_under(tmp_path) == [tmp_path / "out"]


def test_a_beta_with_both_shape_and_moments_is_a_usage_error(capsys, tmp_path):
    f = scenario_file(tmp_path, lambda d: d["parameters"].update(engagement={"dist": "beta", "a": 8,
                                                                             "mean": 0.8, "sd": 0.05}))
    code, out, err = cli(capsys, "validate", f)
    assert_usage_error(code, err, "parameters.engagement")
    code, out, err = cli(capsys, "run", f, "--trials", "10")
    assert_usage_error(code, err, "parameters.engagement")


def test_unknown_subcommand(capsys):
    code, out, err = cli(capsys, "simulate", BENCHMARK)
    assert_usage_error(code, err, "invalid choice", "'simulate'", "run")


def test_no_subcommand_prints_help_and_exits_2(capsys):
    code, out, err = cli(capsys)
    assert code == 2
    assert "usage: sibsim" in out and "run" in out


def test_unknown_option(capsys):
    code, out, err = cli(capsys, "run", BENCHMARK, "--trails", "10")
    assert_usage_error(code, err, "unrecognized arguments", "--trails")


# --------------------------------------------------------------------------
# validate, schema, version
# --------------------------------------------------------------------------


def test_validate_a_good_file(capsys):
    code, out, err = cli(capsys, "validate", BENCHMARK)
    assert code == 0 and err == ""
    assert f"{BENCHMARK}: valid scenario 'Benchmark employment SIB'" in out
    assert "8 parameters, 3 outcomes" in out


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_validate_every_shipped_scenario(capsys, path):
    code, out, err = cli(capsys, "validate", str(path))
    assert code == 0, err


def test_schema_prints_json_schema(capsys):
    code, out, err = cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert "outcomes" in schema["properties"]
    assert {"name", "horizon_periods", "participants", "outcomes", "rate_card"} <= set(schema["required"])
    assert "parameters" in schema["properties"] and "$defs" in schema


def test_version(capsys):
    import sibsim

    code, out, err = cli(capsys, "--version")
    assert code == 0 and out.strip() == f"sibsim {sibsim.__version__}"


# --------------------------------------------------------------------------
# The installed console script, in a real process
# --------------------------------------------------------------------------


def test_console_script_exits_2_without_a_traceback(tmp_path):
    script = Path(sys.executable).parent / "sibsim"
    assert script.exists(), f"console script not installed at {script}"
    f = scenario_file(tmp_path, lambda d: d["costs"].update(bogus=1))
    proc = subprocess.run([str(script), "run", f, "--trials", "10"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("sibsim: error: ")
    assert "costs.bogus" in proc.stderr and "unknown field" in proc.stderr
    assert proc.stdout == ""
