"""A run for a report, from a Run, a run's JSON file or an evidence-base id: regenerated exactly."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError

# A summary-only record (``--keep summary``) kept no trials; it is regenerated with every trial (what a
# report reads) only up to this many: a 1,000,000-trial benchmark run peaks at about 0.65 GB resident.
REGENERATE_AT_MOST = 1_000_000


def _from_record(record: dict, *, where: str):
    from ..engine import simulate
    from ..spec import Scenario

    try:
        sc_json = record["scenario"]["canonical_json"]
        seed, trials = int(record["seed"]), int(record["trials"])
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{where}: not a sibsim run record (needs scenario.canonical_json, seed and trials)") from None
    if record.get("keep") == "summary" and trials > REGENERATE_AT_MOST:
        raise UsageError(f"{where}: a --keep summary run of {trials:,} trials; a report reads every trial, and "
                         f"regenerating more than {REGENERATE_AT_MOST:,} would hold them all in memory (about 0.4 "
                         "kB a trial): report on a run of fewer trials (sibsim run ... --keep all --trials "
                         f"{REGENERATE_AT_MOST:,} --json run.json)")
    sc = Scenario.model_validate_json(sc_json)
    models = record.get("finance_models") or list((record.get("models") or {}).keys())
    finance = tuple(m for m in models if m != sc.finance.model)
    run = simulate(sc, trials=trials, seed=seed, finance=finance)
    if run.scenario.content_hash != record["scenario"].get("hash", run.scenario.content_hash):
        raise UsageError(f"{where}: the scenario's hash does not match its canonical JSON; the record was edited")
    return run


def load_run(src, *, db: str | None = None):
    """A :class:`~sibsim.run.Run` from ``src``: a Run (returned as is), a run JSON path, or an evidence-base id.

    JSON and stored runs are regenerated from (scenario, seed, trials, finance
    models): the engine's numbers are identical for these, so the report's
    per-period cash flows and percentiles are available too.
    """
    if hasattr(src, "metrics") and hasattr(src, "scenario"):
        return src
    text = str(src)
    if text.isdigit() and not Path(text).exists():
        from ..store import open_store

        with open_store(db) as store:
            record = store.get_run(int(text))
        return _from_record(record, where=f"evidence run {text}")
    p = Path(text)
    if not p.is_file():
        raise UsageError(f"report source {text!r}: no such file (give a run JSON from `sibsim run --json` or an "
                         "evidence-base run id)")
    try:
        record = json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"report source {text}: not JSON ({err})") from None
    if not isinstance(record, dict):
        raise UsageError(f"report source {text}: not a sibsim run record")
    return _from_record(record, where=text)
