"""Engine, schema upgrade and transactions for the evidence base.

Where the database is: an explicit URL, else the environment variable
``SIBSIM_DB``, else ``sqlite:///./evidence.db``. A bare file path means a
SQLite file; ``:memory:`` a private in-memory SQLite database.

SQLite is opened in WAL mode with a busy timeout, and every write
transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
for the lock instead of failing half-way; a write that still meets "database
is locked" is retried. The schema is brought to the latest Alembic revision on
open, under a lock (the SQLite write lock, or a PostgreSQL advisory lock), so
that processes opening a new database at once do not race to create it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import URL, Engine, create_engine, event, exc, make_url, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from ..errors import UsageError

DEFAULT_URL = "sqlite:///./evidence.db"
MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
PG_LOCK_KEY = 0x51B51E  # advisory lock held while migrating

T = TypeVar("T")


def resolve_url(url=None) -> URL:
    """The database URL to use (see module docstring); malformed -> UsageError."""
    if url is None:
        url = os.environ.get("SIBSIM_DB") or DEFAULT_URL
    if isinstance(url, URL):
        return url
    raw = str(url).strip()
    if raw == ":memory:":
        return make_url("sqlite://")
    if isinstance(url, Path) or "://" not in raw:
        if not raw:
            raise UsageError("evidence database: empty URL; give a SQLAlchemy URL or a SQLite file path")
        return URL.create("sqlite", database=str(Path(raw).expanduser()))
    try:
        parsed = make_url(raw)
    except (exc.ArgumentError, ValueError) as e:
        raise UsageError(f"evidence database {_mask_text(raw)}: malformed URL ({_one_line(e)})") from None
    if parsed.drivername in ("postgresql", "postgres"):
        # a bare postgresql:// means the driver sibsim ships with (psycopg2), not SQLAlchemy's default
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _mask_text(raw: str) -> str:
    """Mask ``user:password@`` in a string that would not parse as a URL."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", raw)


def _one_line(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__


def describe_error(url: URL, e: BaseException, what: str = "cannot open") -> UsageError:
    """A one-line UsageError naming the database (password masked) and the cause."""
    reason = _one_line(e)
    if url.password:  # drivers may echo the URL or its password; mask them, but never a bare short word
        reason = reason.replace(url.render_as_string(hide_password=False), masked(url))
        pw = str(url.password)
        if len(pw) >= 6:
            reason = reason.replace(pw, "***")
    return UsageError(f"evidence database {masked(url)}: {what}: {reason}")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_store_engine(url: URL, *, wal: bool = True, creator=None) -> Engine:
    """An engine set up for the store (SQLite pragmas and locking; PostgreSQL pre-ping)."""
    try:
        if url.get_backend_name() == "sqlite":
            memory = url.database in (None, "", ":memory:")
            wal = wal and not memory
            engine = create_engine(
                url,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                **({"poolclass": StaticPool} if memory else {}), **({"creator": creator} if creator else {}),
            )
            _sqlite_events(engine, wal=wal)
        else:
            if url.get_driver_name() == "psycopg2":
                import psycopg2.extensions

                psycopg2.extensions.set_wait_callback(_wait_interruptibly)
            engine = create_engine(url, pool_pre_ping=True)
    except (exc.ArgumentError, exc.NoSuchModuleError, ValueError) as e:
        raise describe_error(url, e, "unsupported URL") from None
    except ImportError as e:
        raise describe_error(url, e, "database driver not installed") from None
    return engine


def _sqlite_events(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if wal:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # a deferred transaction that later writes can fail at once with
        # SQLITE_BUSY; writers take the lock up front and wait for it instead
        if conn.get_execution_options().get("sibsim_write", False):
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN")


LOCK_POLL_MS = 100  # SQLite: the longest a signal waits while a writer waits for the write lock


def _begin_immediate(conn) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``BUSY_TIMEOUT_MS`` for the write lock in busy waits of
    ``LOCK_POLL_MS`` with Python in between: SQLite's busy wait is in C, where Ctrl-C and SIGTERM would wait
    for its end (30 s) instead of stopping the command."""
    import sqlite3

    raw = conn.connection.dbapi_connection
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    raw.execute(f"PRAGMA busy_timeout = {LOCK_POLL_MS}")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e).lower() and "busy" not in str(e).lower():
                    break  # any other error: raised below, as SQLAlchemy reports it
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the last try: its error is a DBAPIError (in_transaction retries)
    finally:
        raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


CANCEL_WAIT = 5.0  # PostgreSQL: seconds to wait for the server's answer to a cancelled query


def _wait_interruptibly(conn) -> None:
    """psycopg2's wait callback for the store: a query is waited for in ``select()``, where Ctrl-C and SIGTERM
    reach Python at once (psycopg2's own wait is in C: they would wait for the server's answer, for ever if the
    query waits for a lock). On a signal the query is cancelled on the server, its answer awaited for at most
    ``CANCEL_WAIT`` seconds, and the signal's exception raised; psycopg2 then closes the connection, so the
    transaction is rolled back by the server, never committed half-way."""
    import select

    from psycopg2.extensions import POLL_OK, POLL_READ

    signalled: BaseException | None = None
    deadline = 0.0
    while True:
        try:
            state = conn.poll()
            if state == POLL_OK:
                break
            wait = None
            if signalled is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
            fd = [conn.fileno()]
            select.select(fd, [], [], wait) if state == POLL_READ else select.select([], fd, [], wait)
        except Exception:
            if signalled is None:
                raise
            break  # the cancelled query's error: the signal's exception goes on
        except BaseException as e:  # KeyboardInterrupt, Terminated (SIGTERM)
            if signalled is not None:
                raise
            signalled, deadline = e, time.monotonic() + CANCEL_WAIT
            try:
                conn.cancel()
            except Exception:  # noqa: BLE001  (cannot reach the server: the connection is closed anyway)
                pass
    if signalled is not None:
        raise signalled


def _locked(e: exc.DBAPIError) -> bool:
    msg = str(getattr(e, "orig", e)).lower()
    code = getattr(getattr(e, "orig", None), "pgcode", None)
    return "database is locked" in msg or "database is busy" in msg or code in ("40001", "40P01")


FAULT_HOLD_SAVE = "SIBSIM_FAULT_HOLD_SAVE"


def _fault_hold(session: Session) -> None:
    """Fault-injection hook; it exists for the fault tests (tests/test_faults_save.py) and does nothing
    unless the environment variable ``SIBSIM_FAULT_HOLD_SAVE`` names a file (the gate) that exists.

    Then, inside the open write transaction and after its rows have been sent to the database (flushed,
    not committed), it creates ``<gate>.ready`` and waits until the gate is removed (the save then commits)
    or the process is signalled: a test can deliver SIGINT, SIGTERM or SIGKILL at exactly that moment
    without sleeping on the clock.
    """
    gate = os.environ.get(FAULT_HOLD_SAVE)
    if not gate or not os.path.exists(gate):
        return
    session.flush()
    Path(gate + ".ready").touch()
    while os.path.exists(gate):
        time.sleep(0.01)


def in_transaction(engine: Engine, fn: Callable[[Session], T], *, write: bool = True,
                   retries: int = 8) -> T:
    """Run ``fn(session)`` in one transaction: committed if it returns, rolled
    back if it raises. Retried from scratch when the database is locked."""
    bind = engine.execution_options(sibsim_write=True) if write else engine
    delay = 0.05
    for attempt in range(retries + 1):
        try:
            with Session(bind, expire_on_commit=False) as session, session.begin():
                result = fn(session)
                if write and FAULT_HOLD_SAVE in os.environ:
                    _fault_hold(session)
                return result
        except exc.DBAPIError as e:
            if not _locked(e) or attempt == retries:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine, url: URL) -> None:
    """Bring the schema to the latest revision (``alembic upgrade head``), under a lock."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())

    def _migrate():
        with engine.execution_options(sibsim_write=True).begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
            current = MigrationContext.configure(conn).get_current_revision()
            if current is not None and current not in {r.revision for r in script.walk_revisions()}:
                raise UsageError(f"evidence database {masked(url)}: schema revision {current} is newer "
                                 "than this sibsim knows; upgrade sibsim")
            if current != script.get_current_head():
                command.upgrade(alembic_config(conn), "head")

    delay = 0.05
    for attempt in range(9):
        try:
            return _migrate()
        except exc.DBAPIError as e:
            if not _locked(e) or attempt == 8:
                raise describe_error(url, e) from None
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


SIBSIM_TABLES = {"runs", "run_tags", "run_per_trial"}  # in every sibsim evidence base since revision 0001


def _sqlite_path(url: URL) -> str | None:
    return url.database if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
        else None


def check_sqlite_file(url: URL) -> bool:
    """Refuse (UsageError) a SQLite path that is not a new file or a sibsim evidence base: a directory, a FIFO,
    a file that is not SQLite, or another application's database (sibsim would add its tables to it).
    Reads the file only. Returns whether the file exists with sibsim's tables in it."""
    import sqlite3
    import stat
    from urllib.parse import quote

    path = _sqlite_path(url)
    if path is None or url.query.get("mode"):
        return False
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise UsageError(f"evidence database {masked(url)}: cannot open: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"evidence database {masked(url)}: {path} is a directory; give a SQLite file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a character device"
                if stat.S_ISCHR(st.st_mode) else "a block device" if stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise UsageError(f"evidence database {masked(url)}: {path} is {kind}; give a SQLite file")
    if st.st_size == 0:
        return False
    try:
        con = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as e:
        raise UsageError(f"evidence database {masked(url)}: {path} is not a SQLite database ({e})") from None
    if not names:
        return False
    if not SIBSIM_TABLES <= names:
        shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise UsageError(f"evidence database {masked(url)}: {path} is not a sibsim evidence base (it holds other "
                         f"tables: {shown}); sibsim writes only into a new file or its own; give another --db")
    return True


def _read_only_creator(url: URL):
    """A connect function opening the SQLite file of ``url`` read-only (``mode=ro``): a read command never
    writes, and a read-only file can be read. None for other databases."""
    path = _sqlite_path(url)
    if path is None:
        return None
    import sqlite3
    from urllib.parse import quote

    uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
    return lambda: sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)


def check_revision(engine: Engine, url: URL) -> None:
    """For a read-only open: the schema must be this sibsim's (a read never upgrades it)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = head_revision()
    if current != head:
        raise UsageError(f"evidence database {masked(url)}: schema revision {current} is not this sibsim's "
                         f"({head}); a command that saves (sibsim run FILE --save) upgrades it")


def open_engine(url=None, *, read_only: bool = False) -> tuple[Engine, URL]:
    """Resolve the URL, connect, upgrade the schema; any failure is a one-line UsageError.

    ``read_only``: a SQLite file is opened read-only and nothing is upgraded (a read never writes).
    """
    u = resolve_url(url)
    check_sqlite_file(u)
    if read_only:  # a read never writes: check the schema's revision, upgrade nothing
        engine, prepare = create_store_engine(u, wal=False, creator=_read_only_creator(u)), check_revision
    else:
        engine, prepare = create_store_engine(u), upgrade
    try:
        prepare(engine, u)
    except UsageError:
        engine.dispose()
        raise
    except (exc.SQLAlchemyError, OSError, ImportError) as e:
        engine.dispose()
        raise describe_error(u, e) from None
    return engine, u
