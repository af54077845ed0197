"""Shared fixtures for the sibsim test suite.

* ``repo_root``     -- Path of the repository root.
* ``pg_url``        -- a throwaway PostgreSQL server for this test process
                       (one per pytest-xdist worker), as a SQLAlchemy URL.
* ``chromium_path`` -- Debian's chromium binary.
* ``browser``       -- a headless Playwright Chromium browser (session).
* ``page``          -- a fresh Playwright page in its own context (per test).

The PostgreSQL and browser fixtures skip when the system packages are
missing (``make system-deps`` installs them).  Under CI (``CI`` set in the
environment) they fail instead, so a missing install step cannot hide
behind a green run.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# A terminal's Ctrl-C reaches a foreground process whose SIGINT is at its default action. A test run started in
# the background of a non-interactive shell (`make test &`, some CI runners) inherits SIGINT ignored, as would
# every sibsim process the tests start, and the Ctrl-C tests (test_faults*.py) would see a Ctrl-C ignored. A
# handler set here is reset to the default action in every process started from this one.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# sibsim's table cache (sibsim/tables.py) in a directory of this test process, not the user's ~/.cache;
# subprocesses the tests start inherit it.
if "SIBSIM_CACHE_DIR" not in os.environ:
    os.environ["SIBSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="sibsim-test-cache-")
    atexit.register(shutil.rmtree, os.environ["SIBSIM_CACHE_DIR"], True)

# No test may depend on wall-clock speed: hypothesis's deadline and its too-slow health check are timings,
# off for every test (a test's own @settings inherits this profile for what it does not set).
settings.register_profile("sibsim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sibsim")

PG_SYSTEM_USER = "sibsim-pg"  # PostgreSQL refuses to run as root
PG_DB_USER = "sibsim"
PG_DB_NAME = "sibsim"

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Required on this machine: without them chromium keeps trying to reach
# Google's hosts through the closed network and can hang.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(message: str) -> None:
    """Skip locally, fail under CI (where `make test` must have installed it)."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    """Newest /usr/lib/postgresql/<ver>/bin that has the server binaries."""

    def version_key(path: str) -> tuple[int, ...]:
        ver = Path(path).parent.name
        return tuple(int(p) for p in re.findall(r"\d+", ver)) or (0,)

    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bindir = Path(initdb).parent
        if all(os.access(bindir / b, os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            candidates.append(str(bindir))
    if not candidates:
        return None
    return Path(max(candidates, key=version_key))


def _ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    proc = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True,
    )
    # Another xdist worker may have created it at the same moment.
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(f"could not create system user {name!r}: {proc.stderr.strip()}") from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PgServer:
    """A PostgreSQL cluster in a temp dir, started with pg_ctl, as a non-root user."""

    def __init__(self, bindir: Path, tag: str) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        # /tmp: traversable by the server's user, and short enough for the
        # unix socket path limit (~107 bytes) whatever TMPDIR says.
        tmp_parent = "/tmp" if os.path.isdir("/tmp") else None
        self.base = Path(tempfile.mkdtemp(prefix=f"sibsim-pg-{tag}-", dir=tmp_parent))
        self.datadir = self.base / "data"
        self.logfile = self.base / "server.log"
        self.port: int | None = None
        self.running = False
        if self.as_root:
            _ensure_system_user(PG_SYSTEM_USER)
            ent = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(self.base, ent.pw_uid, ent.pw_gid)
        os.chmod(self.base, 0o700)

    def _run(self, *argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
        proc = subprocess.run(
            cmd, cwd=self.base, env=env, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-4000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\nserver log:\n{log}"
            )
        return proc

    def start(self) -> None:
        self._run(
            "initdb", "-D", str(self.datadir), "-U", PG_DB_USER, "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-sync",
        )
        conf = self.datadir / "postgresql.conf"
        base_conf = conf.read_text()
        last_error: Exception | None = None
        for _attempt in range(5):  # a free port can be taken between probe and bind
            self.port = _free_port()
            conf.write_text(
                base_conf
                + "\n# sibsim test server\n"
                + "listen_addresses = '127.0.0.1'\n"
                + f"port = {self.port}\n"
                + f"unix_socket_directories = '{self.base}'\n"
                + "max_connections = 50\n"
                + "shared_buffers = 32MB\n"
                + "fsync = off\n"
                + "synchronous_commit = off\n"
                + "full_page_writes = off\n"
                + "timezone = 'UTC'\n"
            )
            proc = self._run(
                "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile),
                "-w", "-t", "60", "start", check=False,
            )
            if proc.returncode == 0:
                self.running = True
                break
            last_error = RuntimeError(
                f"pg_ctl start failed ({proc.returncode}): {proc.stderr}\n"
                + (self.logfile.read_text(errors="replace")[-4000:] if self.logfile.exists() else "")
            )
            time.sleep(0.2)
        else:
            raise last_error  # type: ignore[misc]
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_DB_USER, PG_DB_NAME)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{PG_DB_USER}@127.0.0.1:{self.port}/{PG_DB_NAME}"

    def stop(self) -> None:
        try:
            if self.running:
                self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60",
                          "stop", check=False)
                self.running = False
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of a private, throwaway PostgreSQL database ``sibsim``.

    The server listens on 127.0.0.1 only, on a free port, trusts local
    connections, and is stopped and deleted at the end of the session.
    Under pytest-xdist each worker gets its own server.
    """
    bindir = _pg_bindir()
    if bindir is None:
        _unavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
            "(run `make system-deps`)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("running as root but `runuser` is missing; cannot start PostgreSQL as non-root")
    tag = os.environ.get("PYTEST_XDIST_WORKER", "main")
    server = _PgServer(bindir, tag)
    atexit.register(server.stop)  # belt and braces if the session teardown never runs
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    try:
        yield server.url
    finally:
        server.stop()


# --------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    _unavailable("Debian chromium not found at /usr/bin/chromium (run `make system-deps`)")


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """Headless Chromium driven by Playwright (never `playwright install`)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (run `make venv`)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=180_000,
        )
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture()
def page(browser):
    """A new page in its own browser context, closed after the test."""
    context = browser.new_context()
    context.set_default_timeout(120_000)  # a hang guard, not a speed test: a busy 2-core machine is slow
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
