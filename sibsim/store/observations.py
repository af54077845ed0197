"""Observation sets in the evidence base: a contract's observed results, tied to its scenario.

An observation set (:class:`sibsim.observe.Observations`) is kept with its
provenance: the scenario it observes (name and hash), who entered it, when,
from what source (a report, a data return, ``synthetic: sibsim observe``) and
its own content hash, so a re-forecast saved as a run can be traced to the
evidence it used (docs/monitoring.md)::

    from sibsim.store import open_store
    from sibsim.store import observations as obs_store
    with open_store() as store:
        oid = obs_store.save_observations(store, obs, scenario, entered_by="A. Analyst", source="Q3 data return")
        obs_store.list_observations(store, scenario_hash=scenario.content_hash)
        obs = obs_store.load_observations(store, oid, scenario)
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import UsageError
from .db import in_transaction
from .models import Base, JSONText


class ObservationSet(Base):
    """One set of observations of a running contract (rows: the file's records, JSON)."""

    __tablename__ = "observation_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scenario_name: Mapped[str] = mapped_column(String(200))
    scenario_hash: Mapped[str] = mapped_column(String(128), index=True)
    obs_hash: Mapped[str] = mapped_column(String(128), index=True)
    until: Mapped[int] = mapped_column(Integer)
    outcomes: Mapped[list] = mapped_column(JSONText)
    rows: Mapped[list] = mapped_column(JSONText)
    entered_by: Mapped[str] = mapped_column(String(200))
    entered: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")


def _engine(store):
    return getattr(store, "engine", store)


def save_observations(store, obs, scenario, *, entered_by: str, source: str, note: str = "") -> int:
    """Store ``obs`` (observations of ``scenario``) with who entered them and from what source; returns the id."""
    if not str(entered_by or "").strip():
        raise UsageError("entered_by: say who entered the observations (a name or role)")
    if not str(source or "").strip():
        raise UsageError("source: say where the observations come from (a report, a data return, ...)")

    def _save(session: Session) -> int:
        row = ObservationSet(scenario_name=scenario.name, scenario_hash=scenario.content_hash,
                             obs_hash=obs.content_hash, until=int(obs.until), outcomes=list(obs.outcomes),
                             rows=obs.to_records(), entered_by=str(entered_by).strip(),
                             entered=datetime.now(timezone.utc), source=str(source).strip(), note=str(note or ""))
        session.add(row)
        session.flush()
        return row.id

    return in_transaction(_engine(store), _save)


def _summary(r: ObservationSet) -> dict:
    when = r.entered.replace(tzinfo=timezone.utc) if r.entered.tzinfo is None else r.entered.astimezone(timezone.utc)
    return {"id": r.id, "scenario_name": r.scenario_name, "scenario_hash": r.scenario_hash, "hash": r.obs_hash,
            "until": r.until, "entered_by": r.entered_by, "entered": when, "source": r.source, "note": r.note,
            "periods": len(r.rows)}


def list_observations(store, *, scenario_hash: str | None = None) -> list[dict]:
    """Saved observation sets (newest first), optionally only those of one scenario."""
    def _list(session: Session) -> list[dict]:
        q = select(ObservationSet).order_by(ObservationSet.id.desc())
        if scenario_hash:
            q = q.where(ObservationSet.scenario_hash == scenario_hash)
        return [_summary(r) for r in session.scalars(q)]

    return in_transaction(_engine(store), _list, write=False)


def get_observations(store, obs_id: int) -> dict:
    """One saved set: its listing fields plus ``outcomes`` and ``rows`` (the file's records)."""
    def _get(session: Session) -> dict:
        r = session.get(ObservationSet, int(obs_id))
        if r is None:
            raise UsageError(f"no observation set {obs_id} in the evidence base")
        d = _summary(r)
        d.update(outcomes=list(r.outcomes), rows=list(r.rows))
        return d

    return in_transaction(_engine(store), _get, write=False)


def load_observations(store, obs_id: int, scenario):
    """A saved set as :class:`~sibsim.observe.Observations` for ``scenario`` (checked again)."""
    from ..observe import check_rows

    d = get_observations(store, obs_id)
    rows = [(i + 1, {k: "" if v is None else repr(float(v)) for k, v in r.items()}) for i, r in enumerate(d["rows"])]
    return check_rows(rows, scenario, name=f"observation set {obs_id}", until=d["until"],
                      meta={"source": d["source"], "entered_by": d["entered_by"], "id": d["id"]})


def delete_observations(store, obs_id: int) -> None:
    in_transaction(_engine(store), lambda s: s.execute(delete(ObservationSet).where(ObservationSet.id == int(obs_id))))
