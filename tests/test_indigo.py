"""The INDIGO import: cell parsing, the tidy tables against the CSV export,
the skip report, the packaged snapshot and reference classes."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sibsim import indigo
from sibsim.errors import UsageError

# A small INDIGO CSV export shipped with the tests: every table of GO Lab's "all public data, one
# file per data type" export (May 2025), with all the rows of eleven projects, the organisations and
# funds they name, and the real column names (tests/fixtures/indigo/README.md).
EXPORT = Path(__file__).parent / "fixtures" / "indigo"
PROJECTS = ("INDIGO-POJ-0001", "INDIGO-POJ-0004", "INDIGO-POJ-0017", "INDIGO-POJ-0043", "INDIGO-POJ-0078",
            "INDIGO-POJ-0084", "INDIGO-POJ-0091", "INDIGO-POJ-0153", "INDIGO-POJ-0168", "INDIGO-POJ-0194",
            "INDIGO-POJ-0299")


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize("text, value, currency", [
    ("5000000", 5e6, None),
    ("7725833.703", 7725833.703, None),
    ("approx 500", 500, None),
    ("about 1,500 people", 1500, None),
    ("£1.2m", 1.2e6, "GBP"),
    ("C$1.16M (estimate)", 1.16e6, "CAD"),
    ("$11.712M", 11.712e6, "$"),
    ("$10,448,853", 10_448_853, "$"),
    ("¥9.76 million", 9.76e6, "JPY"),
    ("68,000,000 rubles", 68e6, "RUB"),
    ("GBP 1,200,000", 1.2e6, "GBP"),
    ("1.234.567", 1_234_567, None),
    ("303 children and their families", 303, None),
    ("2000 (split in 2 cohorts)", 2000, None),
    ("285 (up to 30/6/18)", 285, None),
    (None, math.nan, None),
    ("  ", math.nan, None),
])
def test_parse_number_reads_confident_values(text, value, currency):
    got = indigo.parse_number(text)
    assert got.reason is None
    assert got.currency == currency
    if math.isnan(value):
        assert math.isnan(got.value)
    else:
        assert got.value == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text, reason", [
    ("=D41-D36", "spreadsheet formula"),
    ("€", "no number"),
    ("1,000-2,000", "range"),
    ("£1.2m - £1.5m", "range"),
    ("500 to 600", "range"),
    ("3000 (later revised  to 944)", "revised value"),
    ("progressing on target at November 2018", "free text"),
    ("CHF 290.000", "ambiguous separator"),
    ("$5,290,000 (housing stability); $6,130,000 (jail day reduction)", "several numbers"),
    ("21%", "percentage"),
])
def test_parse_number_skips_with_a_reason(text, reason):
    got = indigo.parse_number(text)
    assert math.isnan(got.value)
    assert got.reason == reason


@pytest.mark.parametrize("text, expected, reason", [
    ("2010-09", "2010-09-01", None),
    ("2016-04-15", "2016-04-15", None),
    ("2018", "2018-01-01", None),
    ("2018-13", None, "invalid month"),
    ("Sept 2018", None, "unrecognised date"),
    ("", None, None),
])
def test_parse_date(text, expected, reason):
    ts, why = indigo.parse_date(text)
    assert why == reason
    assert (pd.isna(ts) if expected is None else ts == pd.Timestamp(expected))


def test_normalise_currency():
    assert indigo.normalise_currency("Russian Ruble") == "RUB"
    assert indigo.normalise_currency("Japanese Yen") == "JPY"
    assert indigo.normalise_currency("GBP ") == "GBP"
    assert indigo.normalise_currency("gbp") == "GBP"
    assert indigo.normalise_currency(None) is None


# ---------------------------------------------------------------- the export


@pytest.fixture(scope="module")
def data() -> indigo.IndigoTables:
    return indigo.read_export(EXPORT)


def _raw(name: str) -> pd.DataFrame:
    return pd.read_csv(EXPORT / name, dtype=str)


def test_fixture_is_a_whole_export():
    # every file of the export, real headers (``Section - Field - (Value)``), only the chosen projects
    names = {p.name for p in EXPORT.glob("*.csv")}
    assert len(names) == 29 and {"projects.csv", "funds.csv", "organisations.csv"} <= names
    assert {n.split("_")[0].removesuffix(".csv") for n in names} == {"projects", "funds", "organisations"}
    for n in names:
        cols = pd.read_csv(EXPORT / n, dtype=str, nrows=0).columns
        assert cols[0] in ("ID", "Project ID", "Fund ID", "Organisation ID"), n
        if n.startswith("projects_"):
            assert set(_raw(n)["Project ID"]) <= set(PROJECTS), n
    assert tuple(_raw("projects.csv")["ID"]) == PROJECTS
    assert "Impact Bond Name - (Value)" in _raw("projects.csv").columns


def test_row_counts(data):
    # 116 payment rows of INDIGO-POJ-0168: plans 1-3 (24 rows each) are superseded by plan 4 (23 rows),
    # 21 actual payments carry no plan
    assert {k: len(v) for k, v in data.tables.items()} == {
        "projects": 11, "rate_cards": 10, "investments": 39, "outcome_payments": 23 + 21, "results": 18}
    assert data.report.rows_read["outcome_payments"] == 116 == len(_raw("projects_outcome_payments.csv"))
    assert data.report.rows_read["investments"] == len(_raw("projects_investments.csv"))
    assert data.projects["project_id"].is_unique
    for name, df in data.tables.items():
        assert list(df.columns) == list(indigo.COLUMNS[name])


def test_peterborough_as_in_the_csv(data):
    # projects.csv, ID INDIGO-POJ-0153: contract signed 2010-03, service from 2010-09,
    # GBP 5,000,000 invested (USD 7,725,833.703), 1802 engaged, no end date or max payment
    raw = _raw("projects.csv").set_index("ID").loc["INDIGO-POJ-0153"]
    assert raw["Impact Bond Name - (Value)"] == "HMP Peterborough (The One Service)"
    p = data.projects.set_index("project_id").loc["INDIGO-POJ-0153"]
    assert p["name"] == "HMP Peterborough (The One Service)"
    assert p["stage"] == "Complete" and p["sector"] == "Criminal justice"
    assert p["country"] == "GB" and p["currency"] == "GBP"
    assert p["start_date"] == pd.Timestamp("2010-09-01")
    assert p["capital_raised_local"] == 5_000_000
    assert p["capital_raised_usd"] == pytest.approx(7_725_833.703)
    assert p["participants"] == 1802 and p["participants_engaged"] == 1802
    assert pd.isna(p["participants_targeted"])
    assert pd.isna(p["max_outcome_payments_local"]) and pd.isna(p["end_date"]) and pd.isna(p["duration_years"])
    assert p["rate_card_prices"] == 0


def test_buenos_aires_project_and_rate_card(data):
    p = data.projects.set_index("project_id").loc["INDIGO-POJ-0001"]
    assert p["country"] == "AR" and p["currency"] == "ARS"
    assert pd.isna(p["capital_raised_local"])  # only a range is given
    assert (p["capital_raised_min_local"], p["capital_raised_max_local"]) == (26_620_000, 48_400_000)
    assert p["max_outcome_payments_local"] == 48_400_000 and p["max_outcome_payments_source"] == "project"
    assert p["duration_years"] == pytest.approx(41 / 12) and p["duration_source"] == "actual duration"
    assert p["participants"] == 1000 and p["rate_card_prices"] == 9

    rc = data.rate_cards.set_index(["project_id", "outcome_metric_id"]).loc[("INDIGO-POJ-0001", "outcomemetric1")]
    assert rc["outcome_definition"] == "Educational completion (vulnerable person)"
    assert rc["currency"] == "ARS" and rc["price_per_outcome_local"] == 12635
    assert rc["price_per_outcome_usd"] == pytest.approx(325.1415, rel=1e-5)
    assert rc["max_price_local"] == 1_111_880


def test_multi_country_and_free_text_commitments(data):
    p = data.projects.set_index("project_id")
    assert p.loc["INDIGO-POJ-0043", "country"] == "multi"
    assert p.loc["INDIGO-POJ-0043", "countries"] == "KE;UG"
    # NY State: two payers, "$10,448,853" and "$11,095,000" in a USD project
    ny = p.loc["INDIGO-POJ-0084"]
    assert ny["max_outcome_payments_local"] == 10_448_853 + 11_095_000
    assert ny["max_outcome_payments_usd"] == 10_448_853 + 11_095_000
    assert ny["max_outcome_payments_source"] == "sum of payer commitments"
    # "C$1.16M (estimate)"
    assert p.loc["INDIGO-POJ-0017", "max_outcome_payments_local"] == 1_160_000
    assert p.loc["INDIGO-POJ-0017", "max_outcome_payments_currency"] == "CAD"
    # a payer's amount that cannot be read ("=D41-D36", "CHF 290.000", two amounts in one cell):
    # no sum of commitments is made up
    for pid in ("INDIGO-POJ-0004", "INDIGO-POJ-0078", "INDIGO-POJ-0091"):
        assert pd.isna(p.loc[pid, "max_outcome_payments_local"]), pid


def test_only_the_latest_payment_plan_is_kept(data):
    raw = _raw("projects_outcome_payments.csv")
    raw = raw[raw["Project ID"] == "INDIGO-POJ-0168"]
    plans = raw["Outcome Payment Plan Id - (Value)"]
    assert set(plans.dropna()) == {"plan1", "plan2", "plan3", "plan4"}

    op = data.outcome_payments[data.outcome_payments["project_id"] == "INDIGO-POJ-0168"]
    assert set(op["plan_id"].dropna()) == {"plan4"}
    planned = op[op["type"] == "planned"]["amount_local"].sum()
    assert planned == pd.to_numeric(raw[plans == "plan4"]["Payments - Amount - (Value)"]).sum()
    actual = op[op["type"] == "actual"]
    assert len(actual) == (raw["Type - (Value)"] == "Actual").sum() == 21
    # every project keeps at most one plan
    assert data.outcome_payments.dropna(subset=["plan_id"]).groupby("project_id")["plan_id"].nunique().max() == 1


def test_skip_report(data):
    rep = data.report
    assert rep.skipped_rows[("outcome_payments", "superseded payment plan version")] == 3 * 24
    assert rep.skipped_fields[("results", "period_start", "invalid month")] == 4
    assert rep.examples[("results", "period_start", "invalid month")][0] == "2018-13"
    c = "outcome_payment_commitments"
    assert rep.skipped_fields[(c, "amount_local", "spreadsheet formula")] == 1  # INDIGO-POJ-0004: "=D41-D36"
    assert rep.examples[(c, "amount_local", "spreadsheet formula")] == ["=D41-D36"]
    assert rep.skipped_fields[(c, "amount_local", "several numbers")] == 1  # INDIGO-POJ-0091
    assert rep.skipped_fields[(c, "amount_local", "ambiguous separator")] == 1  # INDIGO-POJ-0078: "CHF 290.000"
    assert rep.skipped_fields[("projects", "max_outcome_payments_local",
                               "commitments incomplete (a payer's amount missing or unread)")] == 3
    assert rep.skipped_fields[("projects", "capital_raised_local", "range only (min/max kept)")] == 1
    assert rep.skipped_fields[("results", "outcomes_achieved", "free text")] == 4
    assert rep.filled[("projects", "max_outcome_payments_local", "sum of payer commitments")] == 3

    frame = rep.to_frame()
    assert set(frame["kind"]) == {"row skipped", "field skipped", "filled"}
    assert frame["count"].sum() == (sum(rep.skipped_rows.values()) + sum(rep.skipped_fields.values())
                                    + sum(rep.filled.values()))
    assert "superseded payment plan version: 72" in str(rep)
    again = indigo.ImportReport.from_dict(rep.to_dict())
    assert again.skipped_fields == rep.skipped_fields and again.examples == rep.examples


def test_skipped_cells_are_nan_not_guesses(data):
    results = data.results
    raw = _raw("projects_results.csv")
    free = raw["Outcomes achieved - (Value)"].str.startswith("Expected results", na=False)
    assert free.sum() > 0
    assert results.loc[free.to_numpy(), "outcomes_achieved"].isna().all()
    engaged = raw["Number engaged In impact bond - (Value)"]
    assert results.loc[(engaged == "303 children and their families").to_numpy(), "number_engaged"].eq(303).all()


def _split(dest: Path) -> Path:
    """The fixture in the layout of newer exports: ``funds/``, ``organisations/`` and ``projects/``."""
    for f in EXPORT.glob("*.csv"):
        sub = dest / ("organisations" if f.name.startswith("organisations") else f.name.split("_")[0].removesuffix(".csv"))
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, sub / f.name)
    return dest


def test_split_layout_reads_the_same_tables(data, tmp_path):
    split = _split(tmp_path / "export")
    assert not (split / "projects.csv").exists() and (split / "projects" / "projects.csv").is_file()
    again = indigo.load(split)  # load() recognises an export in either layout
    for name in indigo.TABLES:
        pd.testing.assert_frame_equal(again.tables[name], data.tables[name])
    assert again.report.skipped_fields == data.report.skipped_fields
    assert again.report.source == str(split)


def test_rows_of_projects_not_in_projects_csv_are_dropped_and_counted(tmp_path):
    src = tmp_path / "export"
    shutil.copytree(EXPORT, src)
    raw = pd.read_csv(src / "projects.csv", dtype=str, keep_default_na=False)
    raw[raw["ID"] != "INDIGO-POJ-0168"].to_csv(src / "projects.csv", index=False)
    got = indigo.read_export(src)
    assert len(got.projects) == 10 and "INDIGO-POJ-0168" not in set(got.results["project_id"])
    assert got.report.skipped_rows[("results", "project not in projects.csv")] == 10
    assert got.report.skipped_rows[("outcome_payments", "project not in projects.csv")] == 44


def test_missing_export_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="projects.csv not found"):
        indigo.read_export(tmp_path)
    with pytest.raises(UsageError, match="is not a directory"):
        indigo.read_export(tmp_path / "nope")
    with pytest.raises(UsageError, match="neither an INDIGO CSV export"):
        indigo.load(tmp_path)


# ---------------------------------------------------------------- the snapshot


def test_packaged_snapshot_loads_with_dtypes():
    snap = indigo.load_snapshot()
    assert len(snap.projects) == 319
    for name, df in snap.tables.items():
        assert list(df.columns) == list(indigo.COLUMNS[name])
    assert snap.projects["start_date"].dtype == "datetime64[ns]"
    assert snap.projects["capital_raised_usd"].dtype == float
    assert snap.report.rows_kept["outcome_payments"] == 1165
    readme = (indigo.SNAPSHOT_DIR / "README.md").read_text()
    assert "GO Lab" in readme and "INDIGO" in readme and "CC BY" in readme
    size = sum(f.stat().st_size for f in indigo.SNAPSHOT_DIR.iterdir())
    assert size < 500_000


def test_packaged_snapshot_agrees_with_the_export(data):
    # the snapshot was built from the whole export; a project's rows depend only on that project's rows,
    # so the fixture's projects read from the fixture must equal their rows in the snapshot
    snap = indigo.load_snapshot()
    for name in indigo.TABLES:
        mine = snap.tables[name][snap.tables[name]["project_id"].isin(PROJECTS)].reset_index(drop=True)
        assert len(mine) == len(data.tables[name]), name
        pd.testing.assert_frame_equal(mine, data.tables[name], check_exact=False, rtol=1e-9)


def test_build_snapshot_command(data, tmp_path, capsys):
    assert indigo.main(["build-snapshot", str(_split(tmp_path / "export")), str(tmp_path / "snap")]) == 0
    assert "rows kept/read: projects 11/11" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "snap").iterdir()} == {f"{t}.csv" for t in indigo.TABLES} | {"report.json"}
    snap = indigo.load_snapshot(tmp_path / "snap")
    for name in indigo.TABLES:
        pd.testing.assert_frame_equal(snap.tables[name], data.tables[name], check_exact=False, rtol=1e-9)
    assert snap.report.skipped_fields == data.report.skipped_fields


# ---------------------------------------------------------------- reference classes


def _toy() -> pd.DataFrame:
    return pd.DataFrame({
        "sector": ["Health", "Health", "Health", "Health", "Homelessness"],
        "currency": ["GBP", "GBP", "USD", "USD", "GBP"],
        "capital_raised_usd": [1.0, 2.0, 3.0, 4.0, np.nan],
        "capital_raised_local": [10.0, 20.0, 3.0, 4.0, 50.0],
        "duration_years": [1.0, 2.0, 2.0, 3.0, 8.0],
        "participants": [100.0, np.nan, 300.0, 400.0, 500.0],
    })


def test_reference_class_worked_by_hand():
    rc = indigo.reference_class(_toy(), capital=2.5, duration_years=2.0, participants=1000)
    cap = rc["capital"]
    assert (cap["n"], cap["percentile"], cap["median"], cap["q1"], cap["q3"]) == (4, 50.0, 2.5, 1.75, 3.25)
    assert cap["column"] == "capital_raised_usd" and cap["currency"] == "USD"
    # durations 1, 2, 2, 3, 8: one below, two ties counted half
    assert rc["duration_years"]["percentile"] == pytest.approx(100 * (1 + 0.5 * 2) / 5)
    assert rc["participants"] == pytest.approx({**rc["participants"], "n": 4, "percentile": 100.0, "median": 350.0})
    assert set(rc) == {"capital", "duration_years", "participants"}


def test_reference_class_sector_and_local_currency():
    rc = indigo.reference_class(_toy(), capital=15, sector="health", currency="gbp")
    assert rc["capital"]["n"] == 2 and rc["capital"]["percentile"] == 50.0
    assert rc["capital"]["column"] == "capital_raised_local" and rc["capital"]["currency"] == "GBP"
    assert rc["capital"]["sector"] == "health"
    empty = indigo.reference_class(_toy(), capital=1, currency="EUR")["capital"]
    assert empty["n"] == 0 and math.isnan(empty["percentile"])


def test_reference_class_refuses_bad_input():
    with pytest.raises(UsageError, match="sector 'space' not among INDIGO sectors; allowed: Health, Homelessness"):
        indigo.reference_class(_toy(), capital=1, sector="space")
    with pytest.raises(UsageError, match="capital must be a number; got 'lots'"):
        indigo.reference_class(_toy(), capital="lots")
    with pytest.raises(UsageError, match="must be finite"):
        indigo.reference_class(_toy(), duration_years=float("inf"))


def test_reference_class_on_real_bonds():
    projects = indigo.load_snapshot().projects
    rc = indigo.reference_class(projects, capital=5_000_000, participants=1802, duration_years=5,
                                max_outcome_payments=8_000_000, price_per_outcome=2_000, currency="GBP")
    assert rc["capital"]["n"] == int(((projects["currency"] == "GBP") & projects["capital_raised_local"].notna()).sum())
    assert 0 < rc["capital"]["percentile"] < 100
    assert rc["participants"]["n"] == projects["participants"].notna().sum()
    for v in rc.values():
        assert v["q1"] <= v["median"] <= v["q3"]
    usd = indigo.reference_class(projects, capital=7_725_833.703, sector="Criminal justice")["capital"]
    cj = projects[projects["sector"] == "Criminal justice"]["capital_raised_usd"].dropna()
    assert usd["n"] == len(cj) and usd["median"] == pytest.approx(cj.median())
