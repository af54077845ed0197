"""``sibsim voi`` and ``sibsim measurement-design``: the issue's command, its JSON shape, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
LCF = str(ROOT / "scenarios" / "life_chances_fund.yaml")
PB = str(ROOT / "scenarios" / "peterborough.yaml")


def test_voi_writes_evpi_per_wtp_and_evppi_per_parameter(tmp_path, capsys):
    """The issue's command (fewer trials): ``"evpi": {"<wtp>": value}``, ``"evppi": {"<parameter>": {"<wtp>": v}}``."""
    out = tmp_path / "voi.json"
    code, text, err = cli(capsys, "voi", LCF, "--options", "sib,pbr,fee", "--wtp", "0,10000,30000",
                          "--trials", "1500", "--json", str(out))
    assert code == 0, err
    d = json.loads(out.read_text())
    wtp = ["0", "10000", "30000"]
    assert list(d["evpi"]) == wtp and all(isinstance(v, float) and v >= 0 for v in d["evpi"].values())
    uncertain = ["cost_multiplier", "engagement", "job_entry_p0", "job_entry_uplift", "job_sustained_q0",
                 "job_sustained_uplift", "level2_p0", "level2_uplift"]
    assert sorted(d["evppi"]) == uncertain
    assert all(list(v) == wtp and all(isinstance(x, float) for x in v.values()) for v in d["evppi"].values())
    assert d["options"] == ["sib", "pbr", "fee"] and d["trials"] == 1500 and set(d["best"]) == set(wtp)
    assert "EVPI" in text and "job_entry_uplift" in text


def test_voi_groups_none_and_evsi(tmp_path, capsys):
    out = tmp_path / "v.json"
    code, text, err = cli(capsys, "voi", LCF, "--options", "sib,none", "--wtp", "30000,appraisal",
                          "--evppi", "job_entry_uplift,job_entry_p0+job_entry_uplift", "--evsi",
                          "pilot_size=50:250:200", "--population", "decisions_per_year=4,years=3",
                          "--trials", "1000", "--json", str(out))
    assert code == 0, err
    d = json.loads(out.read_text())
    assert list(d["evppi"]) == ["job_entry_uplift", "job_entry_p0+job_entry_uplift"]
    f = 4 * (1 + 1 / 1.035 + 1 / 1.035 ** 2)
    assert d["population"]["factor"] == pytest.approx(f)
    assert d["population_evpi"]["30000"] == pytest.approx(d["evpi"]["30000"] * f)
    e = d["evsi"]
    assert e["field"] == "pilot_size" and e["sizes"] == [50, 250] and set(e["by_wtp"]) == {"30000", "appraisal"}
    assert e["cost"] == [20000 + 20 * 500 + 1500 * 50, 20000 + 20 * 500 + 1500 * 250]
    assert "optimal pilot_size" in text


@pytest.mark.parametrize("argv,msg", [
    (["--options", "sib,bond"], "option 'bond' is not available; options: sib, pbr, fee, hybrid, none"),
    (["--wtp", "-5"], "willingness to pay must be a number >= 0"),
    (["--evppi", "nope"], "'nope' is not a parameter"),
    (["--evsi", "size=1:5:1"], "FIELD=START:STOP:STEP"),
    (["--population", "people=3"], "--population: expects NAME=VALUE"),
])
def test_voi_bad_input_exits_2_naming_the_option(capsys, argv, msg):
    code, _, err = cli(capsys, "voi", LCF, "--trials", "200", *argv)
    assert code == 2 and msg in err and "Traceback" not in err


def test_appraisal_wtp_needs_values(tmp_path, capsys):
    code, _, err = cli(capsys, "voi", PB, "--trials", "200", "--options", "sib,none", "--wtp", "appraisal")
    assert code == 2 and "value_per_outcome" in err


def test_measurement_design_command(tmp_path, capsys):
    out = tmp_path / "d.json"
    code, text, err = cli(capsys, "measurement-design", PB, "--sizes", "2,10", "--trigger-scales", "1",
                          "--trials", "300", "--max-pay-no-effect", "0.5", "--max-no-pay-at-target", "0.9",
                          "--json", str(out))
    assert code == 0, err
    d = json.loads(out.read_text())
    assert [r["size"] for r in d["designs"]] == [2.0, 10.0] and d["size_field"] == "size_per_participant"
    assert d["recommended"]["size"] in (2.0, 10.0) and "Recommended" in text
    code, _, err = cli(capsys, "measurement-design", LCF, "--trials", "100")
    assert code == 2 and "no measurement section" in err


def test_console_script_voi_help_is_lazy():
    """The command is registered, and listing commands does not import the value-of-information code."""
    code = ("import sys; from sibsim.cli import build_parser; build_parser(); "
            "print('sibsim.valueinfo' in sys.modules, 'sklearn' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["False", "False"]
    r = subprocess.run([sys.executable, "-m", "sibsim", "voi", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--evsi" in r.stdout


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_has_a_value_of_information(path):
    import sibsim

    sc = sibsim.load(path)
    own = sc.finance.model if sc.finance.model != "fee" else "sib"
    res = sibsim.voi(sc, options=[own, "fee", "none"], wtp=[0, 20000], evsi="comparison_size=300", trials=200,
                     seed=1, draws=20)
    d = res.to_dict()
    assert set(d["evpi"]) == {"0", "20000"} and all(v >= 0 for v in d["evpi"].values())
    assert d["best"]["0"] == "none"  # valuing outcomes at nothing, not commissioning is best
    assert set(d["evppi"]) == {k for k, v in res.decision.params.items() if v.std() > 0}
    assert len(d["evsi"]["by_wtp"]["20000"]["evsi"]) == 1
