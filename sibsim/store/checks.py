"""What the evidence base accepts, checked in Python before any insert, so SQLite and PostgreSQL agree.

SQLite stores a 300-character name in a ``VARCHAR(200)`` column, a NUL inside
text and a 100-digit seed; PostgreSQL refuses all three (after the run has
been simulated). Every value a save writes into a column of its own is checked
here against the column's limits in :data:`TEXT_LIMITS` and :data:`MAX_INTEGER`,
with a message naming the field, the value (shortened) and what is allowed.
The command line calls :func:`check_save` before it simulates; the store calls
it again on every save.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import UsageError

# field: the most characters it may hold (None: no limit); the String(n) lengths of sibsim.store.models
TEXT_LIMITS: dict[str, int | None] = {"name": 200, "scenario hash": 128, "tag": 100, "note": None}
MAX_SEED_DIGITS = 80  # seeds are stored as decimal text, String(80)
MAX_INTEGER = 2**31 - 1  # trials: an INTEGER column (32 bits on PostgreSQL)
MAX_TEXT = 1_000_000  # any free text (a note): a megabyte of characters is not a note


def shown(value, width: int = 60) -> str:
    """``value`` for a message: repr-escaped (control characters, escapes, newlines visible) and shortened."""
    text = ascii(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 4] + "...'"


def check_text(field: str, value, *, limit: int | None = None, empty: bool = True) -> str:
    """``value`` if it is text the store can hold: str, valid UTF-8, no NUL, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise UsageError(f"{field} {shown(value)}: must be text; got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 on the command line
        raise UsageError(f"{field} {shown(value)}: is not valid UTF-8 text") from None
    if "\x00" in value:
        raise UsageError(f"{field} {shown(value)}: holds a NUL character, which the evidence base cannot store")
    lim = MAX_TEXT if limit is None else limit
    if len(value) > lim:
        raise UsageError(f"{field} {shown(value)}: {len(value):,} characters; at most {lim:,} allowed")
    if not empty and not value.strip():
        raise UsageError(f"{field} {shown(value)}: must not be empty")
    return value


def check_tags(tags: Iterable[str] | str) -> list[str]:
    """Tags as stored: stripped, 1 to 100 characters of UTF-8 without NUL, duplicates dropped."""
    if isinstance(tags, str):
        tags = [tags]
    out = []
    for t in tags:
        t = check_text("tag", t.strip() if isinstance(t, str) else t)
        if not t or len(t) > TEXT_LIMITS["tag"]:
            raise UsageError(f"tag {shown(t)}: tags must be 1 to {TEXT_LIMITS['tag']} characters; got {len(t)}")
        if t not in out:
            out.append(t)
    return out


def check_save(*, name, seed, trials, tags=(), note="", scenario_hash="") -> list[str]:
    """Everything a save (run or sweep) writes into its own columns; returns the cleaned tags."""
    check_text("scenario name", name, limit=TEXT_LIMITS["name"])
    if scenario_hash:
        check_text("scenario hash", scenario_hash, limit=TEXT_LIMITS["scenario hash"])
    check_text("note", note or "")
    if len(str(int(seed))) > MAX_SEED_DIGITS:
        raise UsageError(f"seed {shown(str(seed), 30)}: {len(str(int(seed)))} digits; at most "
                         f"{MAX_SEED_DIGITS} can be stored")
    if int(trials) > MAX_INTEGER:
        raise UsageError(f"trials {int(trials):,}: at most {MAX_INTEGER:,} can be stored")
    return check_tags(tags)
