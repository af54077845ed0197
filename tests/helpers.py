"""Small scenario builders shared by the engine tests."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from sibsim.spec import validate

ROOT = Path(__file__).resolve().parents[1]


def benchmark_dict() -> dict:
    return yaml.safe_load((ROOT / "scenarios" / "benchmark.yaml").read_text())


def tiny(**over) -> dict:
    """One participant, certain outcomes, fixed lags: every number can be worked by hand."""
    d = {
        "name": "tiny",
        "period": "quarter",
        "horizon_periods": 8,
        "parameters": {},
        "participants": {"starts": {"kind": "schedule", "per_period": [1]}, "engagement": 1.0},
        "outcomes": [
            {"name": "a", "baseline": 0.0, "effect": {"size": 1.0}, "lag": {"dist": "fixed", "periods": 1}},
            {"name": "b", "requires": "a", "baseline": 0.0, "effect": {"size": 1.0}, "lag": {"dist": "fixed", "periods": 2}},
            {"name": "c", "baseline": 0.0, "effect": {"size": 1.0}, "lag": {"dist": "fixed", "periods": 3}},
        ],
        "rate_card": {"prices": {"a": 3500, "b": 4000, "c": 1000}, "payment_lag_periods": 1},
    }
    for k, v in over.items():
        d[k] = v
    return d


def scenario(d: dict):
    return validate(copy.deepcopy(d))


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``sibsim argv``, run in this process (argparse's own errors exit
    via SystemExit); arguments may be paths or numbers."""
    from sibsim.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- fault tests (test_faults.py, test_faults_save.py)


def fresh_pg_database(pg_url: str) -> str:
    """The URL of a new, empty database on the test server of ``pg_url`` (the ``pg_url`` fixture)."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def gone(children, timeout: float = 5.0) -> list[int]:
    """Pids of the recorded ``psutil`` children still alive after ``timeout`` seconds."""
    import psutil

    _, alive = psutil.wait_procs(children, timeout=timeout)
    return [c.pid for c in alive if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
