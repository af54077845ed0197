"""Observations of a running contract: the file format, its checks, and synthetic observations.

A contract's observed results are one CSV file, one row per period observed
(docs/monitoring.md)::

    # lines starting with '#' are comments (provenance: who, when, source)
    period,starts,engaged,job_entry,job_sustained,qualification,payments,capital_drawn
    0,100,81,0,0,0,0,151500
    1,100,79,7,0,4,0,148500

* ``period``: 0-based period of the contract (``0 .. horizon_periods - 1``);
  periods may be missing (not reported), never repeated.
* ``starts``: participants who started in the period.
* ``engaged`` (optional column): starters of the period who engaged.
* one column per outcome of the scenario, named as the outcome: the number of
  that outcome *achieved in the period* by the participants the contract pays
  for (every starter, or the engaged only when ``payment_on: engaged``). A
  column may be left out, and a cell left empty: not observed.
* ``payments`` (optional): outcome payments made in the period.
* ``capital_drawn`` (optional): investors' capital drawn in the period.

The observations end at ``until`` (the last period given + 1): the re-forecast
(:mod:`sibsim.reforecasting`) treats periods ``0 .. until - 1`` as the past.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UsageError

BASE_COLUMNS = ("period", "starts", "engaged")
MONEY_COLUMNS = ("payments", "capital_drawn")


class ObservationError(UsageError):
    """An observation file or table is not valid (the message names row and column)."""


@dataclass(frozen=True)
class Observations:
    """A contract's observed results, periods ``0 .. until - 1`` (rows may be missing).

    periods: (m,) int observed periods, increasing
    starts: (m,) float starters per observed period
    engaged: (m,) float engaged starters (NaN: not observed)
    counts: (m, K) float outcomes achieved per period, the scenario's outcome order (NaN: not observed)
    payments, capital_drawn: (m,) float currency per period (NaN: not observed)
    """

    outcomes: tuple[str, ...]
    periods: np.ndarray
    starts: np.ndarray
    engaged: np.ndarray
    counts: np.ndarray
    payments: np.ndarray
    capital_drawn: np.ndarray
    until: int
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        for name in ("periods", "starts", "engaged", "counts", "payments", "capital_drawn"):
            a = np.array(getattr(self, name))
            a.flags.writeable = False
            object.__setattr__(self, name, a)

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def to_records(self) -> list[dict]:
        """One dict per observed period (None where not observed), columns in file order."""
        rows = []
        for i, t in enumerate(self.periods):
            r = {"period": int(t), "starts": _num(self.starts[i]), "engaged": _num(self.engaged[i])}
            r.update({k: _num(self.counts[i, j]) for j, k in enumerate(self.outcomes)})
            r.update({"payments": _num(self.payments[i]), "capital_drawn": _num(self.capital_drawn[i])})
            rows.append(r)
        return rows

    @property
    def content_hash(self) -> str:
        """sha256 of the observations' canonical JSON (values only: comments and provenance excluded)."""
        text = json.dumps({"outcomes": list(self.outcomes), "until": self.until, "rows": self.to_records()},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.to_records()).set_index("period")

    def to_csv(self, path: str | Path | None = None, *, comments: list[str] = ()) -> str:
        """The CSV text (with ``# comment`` lines first); written to ``path`` if given."""
        cols = ["period", "starts"]
        if not np.isnan(self.engaged).all():
            cols.append("engaged")
        cols += [k for j, k in enumerate(self.outcomes) if not np.isnan(self.counts[:, j]).all()]
        cols += [c for c in MONEY_COLUMNS if not np.isnan(getattr(self, c)).all()]
        buf = io.StringIO()
        for c in comments:
            buf.write(f"# {c}\n")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in self.to_records():
            w.writerow(["" if r[c] is None else _fmt(r[c]) for c in cols])
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) or np.isnan(x) else float(x)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def read_observations(source, scenario, *, name: str | None = None) -> Observations:
    """Read and check observations for ``scenario`` from a CSV path, text, or file-like object.

    Raises :class:`ObservationError` naming the line, column, value and what is allowed.
    """
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and "," not in source):
        p = Path(source)
        if not p.is_file():
            raise ObservationError(f"observation file {source} does not exist")
        text, name = p.read_text(), name or str(source)
    elif hasattr(source, "read"):
        text = source.read()
        text = text.decode() if isinstance(text, bytes) else text
    else:
        text = str(source)
    name = name or "observations"
    comments, lines = [], []
    for no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s.startswith("#"):
            comments.append(s[1:].strip())
        elif s:
            lines.append((no, line))
    if not lines:
        raise ObservationError(f"{name}: no header row; the first row names the columns "
                               f"(period, starts, engaged, one per outcome, payments, capital_drawn)")
    header_no, header = lines[0]
    cols = [c.strip() for c in next(csv.reader([header]))]
    outcomes = tuple(o.name for o in scenario.outcomes)
    allowed = list(BASE_COLUMNS) + list(outcomes) + list(MONEY_COLUMNS)
    for c in cols:
        if c not in allowed:
            raise ObservationError(f"{name} line {header_no}: unknown column {c!r}; columns allowed: "
                                   f"{', '.join(allowed)} (outcomes of scenario '{scenario.name}': {', '.join(outcomes)})")
    dup = [c for c in cols if cols.count(c) > 1]
    if dup:
        raise ObservationError(f"{name} line {header_no}: column {dup[0]!r} appears twice")
    for c in ("period", "starts"):
        if c not in cols:
            raise ObservationError(f"{name} line {header_no}: column {c!r} is required")
    rows = []
    for no, line in lines[1:]:
        cells = next(csv.reader([line]))
        if len(cells) != len(cols):
            raise ObservationError(f"{name} line {no}: {len(cells)} cells for {len(cols)} columns ({', '.join(cols)})")
        rows.append((no, dict(zip(cols, (c.strip() for c in cells)))))
    return check_rows(rows, scenario, name=name, meta={"comments": comments, "source": name})


def _value(name, no, col, raw, *, integer: bool) -> float:
    if raw == "":
        return math.nan
    try:
        x = float(raw)
    except ValueError:
        raise ObservationError(f"{name} line {no}, column {col}: {raw!r} is not a number") from None
    if not math.isfinite(x):
        raise ObservationError(f"{name} line {no}, column {col}: {raw!r} is not a finite number")
    if x < 0:
        raise ObservationError(f"{name} line {no}, column {col}: {raw} is negative; counts and amounts are >= 0")
    if integer and not x.is_integer():
        raise ObservationError(f"{name} line {no}, column {col}: {raw} is not a whole number")
    return x


def check_rows(rows: list[tuple[int, dict]], scenario, *, name: str = "observations", meta: dict | None = None,
               until: int | None = None) -> Observations:
    """Observations from ``(line number, {column: text})`` rows, every check applied."""
    T = scenario.horizon_periods
    outcomes = tuple(o.name for o in scenario.outcomes)
    K = len(outcomes)
    if not rows:
        raise ObservationError(f"{name}: no rows; give at least one period")
    parsed = []
    seen = {}
    for no, r in rows:
        vals = {c: _value(name, no, c, r.get(c, ""), integer=c not in MONEY_COLUMNS) for c in r}
        t = vals["period"]
        if math.isnan(t):
            raise ObservationError(f"{name} line {no}, column period: empty; every row needs its period")
        if t >= T:
            raise ObservationError(f"{name} line {no}, column period: {int(t)} is past the horizon; "
                                   f"periods run 0 .. {T - 1} ({T} {scenario.period}s)")
        if int(t) in seen:
            raise ObservationError(f"{name} line {no}, column period: period {int(t)} again (first on line "
                                   f"{seen[int(t)]})")
        seen[int(t)] = no
        if math.isnan(vals["starts"]):
            raise ObservationError(f"{name} line {no}, column starts: empty; give the period's starts (0 if none)")
        e = vals.get("engaged", math.nan)
        if e > vals["starts"]:
            raise ObservationError(f"{name} line {no}, column engaged: {int(e)} engaged is more than the "
                                   f"{int(vals['starts'])} starts of period {int(t)}")
        parsed.append((no, int(t), vals))
    parsed.sort(key=lambda x: x[1])
    m = len(parsed)
    periods = np.array([t for _, t, _ in parsed], np.int64)
    starts = np.array([v["starts"] for *_, v in parsed])
    engaged = np.array([v.get("engaged", math.nan) for *_, v in parsed])
    counts = np.array([[v.get(k, math.nan) for k in outcomes] for *_, v in parsed]).reshape(m, K)
    payments = np.array([v.get("payments", math.nan) for *_, v in parsed])
    capital = np.array([v.get("capital_drawn", math.nan) for *_, v in parsed])
    _check_totals(name, scenario, parsed, periods, starts, engaged, counts)
    U = int(periods.max()) + 1 if until is None else int(until)
    return Observations(outcomes, periods, starts, engaged, counts, payments, capital, U, dict(meta or {}))


def _check_totals(name, sc, parsed, periods, starts, engaged, counts) -> None:
    """Nobody achieves an outcome before starting, or twice: running totals of each outcome stay within
    running starts (engaged starts when only the engaged are paid for), and within their prerequisite's.

    Checked while every period so far is observed (a missing period's starts are unknown).
    """
    names = [o.name for o in sc.outcomes]
    base = engaged if sc.participants.payment_on == "engaged" else starts
    base_name = "engaged" if sc.participants.payment_on == "engaged" else "starts"
    complete = periods == np.arange(len(periods))
    cum_base = np.cumsum(np.nan_to_num(base))
    cum = np.cumsum(np.nan_to_num(counts), axis=0)
    for k, o in enumerate(sc.outcomes):
        for i, (no, t, _) in enumerate(parsed):
            if not complete[i] or np.isnan(counts[i, k]):
                continue
            if base_name == "engaged" and np.isnan(engaged[: i + 1]).any():
                break
            if cum[i, k] > cum_base[i]:
                raise ObservationError(
                    f"{name} line {no}, column {o.name}: {int(cum[i, k])} {o.name} outcomes by period {t} is more "
                    f"than the {int(cum_base[i])} {base_name} by then (each participant achieves it at most once)")
            if o.requires is not None:
                j = names.index(o.requires)
                if not np.isnan(counts[: i + 1, j]).any() and cum[i, k] > cum[i, j]:
                    raise ObservationError(
                        f"{name} line {no}, column {o.name}: {int(cum[i, k])} {o.name} outcomes by period {t} is more "
                        f"than the {int(cum[i, j])} {o.requires} outcomes it requires")


def from_frame(df, scenario, *, name: str = "observations", meta: dict | None = None) -> Observations:
    """Observations from a pandas DataFrame with the file's columns (``period`` a column or the index)."""
    if "period" not in df.columns:
        df = df.reset_index()
    text = df.to_csv(index=False)
    obs = read_observations(io.StringIO(text), scenario, name=name)
    return Observations(obs.outcomes, obs.periods, obs.starts, obs.engaged, obs.counts, obs.payments,
                        obs.capital_drawn, obs.until, dict(meta or {}))


# ------------------------------------------------------------------ synthetic observations


@dataclass(frozen=True)
class Synthetic:
    """Synthetic observations and the truth they came from.

    truth: every parameter's value in the simulated trial (those not set: one draw from the prior)
    final: the trial's per-trial metrics over the whole horizon (``outcome_payments``, ...)
    """

    observations: Observations
    truth: dict
    final: dict


def synthesize(scenario, *, truth: dict[str, float] | None = None, until: int, seed: int) -> Synthetic:
    """Observe periods ``0 .. until - 1`` of one simulated trial of ``scenario`` with ``truth`` fixed.

    The trial is trial 0 of ``sibsim.simulate(scenario.with_params(**truth), seed=seed)``: parameters not
    in ``truth`` take that trial's prior draw. Counts by period come from the engine's own participant
    pass (:func:`sibsim.cohorts.simulate_cohort`, its per-outcome counts with the payment lag set to 0),
    payments and capital from the engine's own cash flows of that trial.
    """
    from . import draw
    from .cohorts import simulate_cohort
    from .engine import _delivery, sample_params, simulate_range

    sc = scenario.with_params(**truth) if truth else scenario
    T = sc.horizon_periods
    if isinstance(until, bool) or not isinstance(until, (int, np.integer)) or not 1 <= until <= T:
        raise UsageError(f"until must be a whole number of periods between 1 and {T}; got {until!r}")
    res = simulate_range(sc, seed, 0, 1)
    d = draw.BlockDraws(seed, 0, 1)
    params = sample_params(sc, d)
    counting = counting_scenario(sc, lag=0, every_outcome=True)  # observations count every outcome achieved
    if sc.delivery is not None:
        st, en, _ = _delivery(sc, params, seed, 0, 1, 0)
        cohort = simulate_cohort(counting, params, d, delivery_starts=st, delivery_engaged=en)
    else:
        cohort = simulate_cohort(counting, params, d)
    U = int(until)
    counts = cohort.count_tr[0, :, :U].T
    one = {k: v[:1] for k, v in params.items()}
    capital = capital_drawn(sc, one, res["paths"]["delivery_cost"][:1])[0, :U]
    obs = Observations(
        outcomes=tuple(o.name for o in sc.outcomes), periods=np.arange(U), starts=cohort.starts[0, :U],
        engaged=cohort.engaged_starts[0, :U], counts=counts, payments=res["paths"]["outcome_payments"][0, :U],
        capital_drawn=capital, until=U,
        meta={"source": f"synthetic: sibsim observe, seed {seed}"})
    truth_all = {k: float(v[0]) for k, v in res["params"].items()}
    own = res["models"][sc.finance.model]["metrics"]  # shared outputs and the scenario's own model's
    final = {k: float(v[0]) for k, v in {**res["metrics"], **own}.items()}
    return Synthetic(obs, truth_all, final)


def capital_drawn(sc, params, costs: np.ndarray) -> np.ndarray:
    """(n, T) investors' capital drawn per period under the scenario's SIB (NaN where the model does not
    say: no SIB, or payments recycled into costs). As needed: delivery cost plus management fee until the
    commitment is drawn; up front: the commitment in period 0; on a schedule: the schedule."""
    from .cohorts import value

    n, T = costs.shape
    s = sc.finance.sib
    if sc.finance.model != "sib" or s is None or s.recycle_until_period is not None:
        return np.full((n, T), np.nan)
    if s.tranches:
        room = sum(np.broadcast_to(np.asarray(value(t.principal, params), float), (n,)) for t in s.tranches)
    else:
        room = np.broadcast_to(np.asarray(np.inf if s.capital_commitment is None else
                                          value(s.capital_commitment, params), float), (n,))
    if s.drawdown == "upfront":
        need = np.zeros((n, T))
        need[:, 0] = room
    elif s.drawdown == "schedule":
        need = np.zeros((n, T))
        sched = np.asarray(s.drawdown_schedule or (), float)[:T]
        need[:, : len(sched)] = sched[None, :]
    else:
        fee = np.broadcast_to(np.asarray(value(s.management_fee_per_period, params), float), (n,))
        need = costs + fee[:, None]
    return np.diff(np.minimum(np.cumsum(need, axis=1), room[:, None]), axis=1, prepend=0.0)


def counting_scenario(sc, *, lag: int | None = None, every_outcome: bool = False):
    """``sc`` with every paid outcome counted by the participant pass (a volume cap no contract reaches;
    ``every_outcome``: every outcome achieved, also those unpriced or cut to zero by the per-participant cap) and,
    if ``lag`` is given, that payment lag: counts by payment period are then counts by achievement period
    (``lag=0``). Used only to read counts; payments come from the scenario itself."""
    rc = sc.rate_card
    caps = {o.name: rc.cap_per_outcome.get(o.name, 2 ** 62) for o in sc.outcomes}
    upd = {"cap_per_outcome": caps}
    if every_outcome:  # a volume cap counts only payments the per-participant cap leaves above zero (model.md s.5)
        upd["cap_per_participant"] = None
        # and only outcomes with a price above zero: a contract paying nothing per outcome (Rikers pays on
        # measured bed days) still has outcomes to observe
        upd["prices"] = {o.name: 1.0 for o in sc.outcomes}
    if lag is not None:
        upd["payment_lag_periods"] = lag
    return sc.model_copy(update={"rate_card": rc.model_copy(update=upd)})
