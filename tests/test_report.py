"""Results people can take into a business case: the Excel workbook and the PDF report (sibsim.report),
read back as a person's tools would read them (openpyxl; poppler's pdftoppm and pdftotext)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

import sibsim
from sibsim import outputs
from sibsim.report import load_run, write_pdf, write_xlsx
from sibsim.report.excel import SHEETS
from sibsim.report.pdf import fmt

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
LCF = str(ROOT / "scenarios" / "life_chances_fund.yaml")
BENCHMARK = str(ROOT / "scenarios" / "benchmark.yaml")
TRIALS = 600


@pytest.fixture(scope="module")
def lcf_run():
    return sibsim.simulate(LCF, trials=TRIALS, seed=3, finance=("pbr", "fee"))


def _rows(ws):
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:]]


def test_workbook_sheets_values_and_formats(lcf_run, tmp_path):
    out = write_xlsx(lcf_run, tmp_path / "lcf.xlsx")
    wb = load_workbook(out)
    assert tuple(wb.sheetnames) == SHEETS
    summary = wb["Summary"]
    rows = _rows(summary)
    for model in ("sib", "pbr", "fee"):
        row = next(r for r in rows if r["Finance model"] == model and r["Name"] == "commissioner_cost")
        assert row["Mean"] == pytest.approx(lcf_run.model(model).metrics["commissioner_cost"].mean(), rel=1e-12)
        assert row["P95"] == pytest.approx(np.percentile(lcf_run.model(model).metrics["commissioner_cost"], 95))
    # the three models' public costs differ, as the engine computes them
    means = {r["Finance model"]: r["Mean"] for r in rows if r["Name"] == "commissioner_cost"}
    assert len(set(np.round(list(means.values()), 2))) == 3
    # a currency cell is a number with a currency format, a share a percentage
    cells = {summary.cell(row=i, column=11).value: i for i in range(2, summary.max_row + 1)
             if summary.cell(row=i, column=1).value == "sib"}
    assert "£" in summary.cell(row=cells["commissioner_cost"], column=5).number_format
    assert "%" in summary.cell(row=cells["deadweight_share"], column=5).number_format
    assert isinstance(summary.cell(row=cells["commissioner_cost"], column=5).value, float)


def test_workbook_cash_flows_are_the_runs_paths(lcf_run, tmp_path):
    wb = load_workbook(write_xlsx(lcf_run, tmp_path / "lcf.xlsx"))
    rows = _rows(wb["Cash flows"])
    flows = np.asarray(lcf_run.paths["commissioner"])
    got = [r for r in rows if r["Party"] == "Commissioner"]
    assert len(got) == lcf_run.scenario.horizon_periods
    for t in (0, 5, lcf_run.scenario.horizon_periods - 1):
        assert got[t]["Mean net cash"] == pytest.approx(flows[:, t].mean(), abs=1e-6)
        assert got[t]["P5"] == pytest.approx(np.percentile(flows[:, t], 5), abs=1e-6)


def test_workbook_inputs_probabilities_and_provenance(lcf_run, tmp_path):
    wb = load_workbook(write_xlsx(lcf_run, tmp_path / "lcf.xlsx"))
    inputs = _rows(wb["Inputs"])
    names = {r["Input"] for r in inputs}
    assert set(lcf_run.scenario.parameters) <= names
    assert any(str(n).startswith("rate_card.prices") for n in names)
    prov = {r[0].value: r[1].value for r in wb["Provenance"].iter_rows()}
    assert prov["scenario hash"] == lcf_run.scenario.content_hash
    assert prov["seed"] == 3 and prov["trials"] == TRIALS
    probs = _rows(wb["Probabilities"])
    loss = next(r for r in probs if r["Finance model"] == "sib" and r["Name"] == "investor_loss")
    assert loss["Probability"] == pytest.approx(lcf_run.indicators["investor_loss"].mean())


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is installed by make test")
def test_pdf_renders_pages_with_the_headline_figures(lcf_run, tmp_path):
    out = write_pdf(lcf_run, tmp_path / "lcf.pdf")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    assert all(p.stat().st_size > 2_000 for p in pages)  # not blank
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True, text=True).stdout
    assert lcf_run.scenario.name in text
    assert f"{outputs.PARTIES['commissioner']}: Commissioner cost" in text  # party heading, as declared
    sib = lcf_run.model("sib").metric_summaries()["commissioner_cost"]
    assert fmt(sib["mean"], "currency", "£") in text
    assert f"--seed 3" in text and lcf_run.scenario.content_hash in text


def test_number_formats_for_people():
    assert fmt(1_234_567, "currency", "£") == "£1.23m"
    assert fmt(-0.0001, "share", "£") == "0.0%"
    assert fmt(0.0512, "rate", "£") == "5.1%"
    assert fmt(float("nan"), "currency", "£") == "undefined"
    assert fmt(-0.01, "count", "£") == "0.0"


def test_report_from_json_regenerates_the_same_run(capsys, tmp_path):
    js, xlsx, pdf = tmp_path / "b.json", tmp_path / "b.xlsx", tmp_path / "b.pdf"
    code, _, err = cli(capsys, "run", BENCHMARK, "--trials", "500", "--seed", "9", "--json", str(js), "-q")
    assert code == 0, err
    run = load_run(js)
    record = json.loads(js.read_text())
    assert run.metric_summaries()["outcome_payments"]["mean"] == record["metrics"]["outcome_payments"]["mean"]
    code, out, err = cli(capsys, "report", str(js), "--xlsx", str(xlsx), "--pdf", str(pdf))
    assert code == 0, err
    assert xlsx.stat().st_size > 0 and pdf.read_bytes()[:5] == b"%PDF-"
    wb = load_workbook(xlsx)
    row = next(r for r in _rows(wb["Summary"]) if r["Name"] == "outcome_payments")
    assert row["Mean"] == pytest.approx(record["metrics"]["outcome_payments"]["mean"], rel=1e-12)


def test_report_from_a_summary_only_record(capsys, tmp_path, monkeypatch):
    """A --keep summary record kept no trials: regenerated with every trial (its means are the record's) up
    to REGENERATE_AT_MOST trials; above, refused before anything is simulated (a 10M-trial record would
    otherwise be regenerated whole, about 4 GB)."""
    import sibsim.report.load as rl

    js, xlsx = tmp_path / "s.json", tmp_path / "s.xlsx"
    code, _, err = cli(capsys, "run", BENCHMARK, "--trials", "600", "--seed", "9", "--keep", "summary",
                       "--json", str(js), "-q")
    assert code == 0, err
    record = json.loads(js.read_text())
    assert record["keep"] == "summary"
    run = load_run(js)
    assert run.kept == "all" and run.trials == 600
    assert run.metric_summaries()["outcome_payments"]["mean"] == pytest.approx(
        record["metrics"]["outcome_payments"]["mean"], rel=1e-12)
    monkeypatch.setattr(rl, "REGENERATE_AT_MOST", 599)
    monkeypatch.setattr("sibsim.engine.simulate", lambda *a, **k: pytest.fail("simulated"))
    code, out, err = cli(capsys, "report", str(js), "--xlsx", str(xlsx))
    assert code == 2 and "--keep summary run of 600 trials" in err and "599" in err and "Traceback" not in err
    assert not xlsx.exists()


def test_report_from_an_evidence_base_id(capsys, tmp_path):
    db = str(tmp_path / "e.db")
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "300", "--seed", "4", "--save", "--db", db, "-q")
    assert code == 0, err
    from sibsim.store import open_store

    with open_store(db) as store:
        rid = store.list_runs()[0]["id"]
    xlsx = tmp_path / "r.xlsx"
    code, out, err = cli(capsys, "report", str(rid), "--db", db, "--xlsx", str(xlsx))
    assert code == 0, err
    prov = {r[0].value: r[1].value for r in load_workbook(xlsx)["Provenance"].iter_rows()}
    assert prov["seed"] == 4 and prov["trials"] == 300


def test_run_writes_reports_and_bad_outputs_exit_2_before_simulating(capsys, tmp_path):
    xlsx, pdf = tmp_path / "r.xlsx", tmp_path / "r.pdf"
    code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "200", "--xlsx", str(xlsx), "--pdf", str(pdf), "-q")
    assert code == 0, err and xlsx.exists() and pdf.exists()
    cases = [
        (["--xlsx", str(tmp_path)], "--xlsx", "is a directory"),
        (["--pdf", str(tmp_path / "no" / "r.pdf")], "--pdf", "does not exist"),
        (["--json", str(tmp_path / "same"), "--xlsx", str(tmp_path / "same")], "--xlsx", "the same file as --json"),
        (["--pdf", " "], "--pdf", "empty path"),
    ]
    for extra, opt, words in cases:
        code, out, err = cli(capsys, "run", BENCHMARK, "--trials", "200", *extra)
        assert code == 2 and opt in err and words in err and "Traceback" not in err, (extra, err)
    code, out, err = cli(capsys, "report", str(tmp_path / "missing.json"), "--pdf", str(pdf))
    assert code == 2 and "no such file" in err
    code, out, err = cli(capsys, "report", str(xlsx), "--pdf", str(tmp_path / "x.pdf"))
    assert code == 2 and "not JSON" in err
    code, out, err = cli(capsys, "report", str(xlsx))
    assert code == 2 and "--xlsx" in err
    assert not list(tmp_path.glob(".*partial")) and not list(tmp_path.glob(".*tmp"))


def test_a_failed_write_leaves_nothing(lcf_run, tmp_path, monkeypatch):
    import xlsxwriter

    def boom(self):
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", boom)
    with pytest.raises(OSError):
        write_xlsx(lcf_run, tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []
