"""Proof that the shared fixtures in conftest.py work for real.

These talk to a real PostgreSQL server and drive a real Chromium; they are
not mocks of either.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest


def test_repo_root(repo_root: Path) -> None:
    assert (repo_root / "pyproject.toml").is_file()
    assert (repo_root / "sibsim").is_dir()


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


@pytest.mark.postgres
def test_pg_url_roundtrip(pg_url: str) -> None:
    import sqlalchemy as sa

    assert pg_url.startswith("postgresql+psycopg2://sibsim@127.0.0.1:")
    assert pg_url.endswith("/sibsim")

    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS infra_probe"))
            conn.execute(sa.text(
                "CREATE TABLE infra_probe (id serial PRIMARY KEY, name text NOT NULL, payoff numeric)"
            ))
            conn.execute(
                sa.text("INSERT INTO infra_probe (name, payoff) VALUES (:n, :p)"),
                [{"n": "outcome-a", "p": 1.5}, {"n": "outcome-b", "p": 2.25}],
            )
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT name, payoff FROM infra_probe ORDER BY id")).all()
            assert [(r.name, float(r.payoff)) for r in rows] == [("outcome-a", 1.5), ("outcome-b", 2.25)]
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == "sibsim"
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == "sibsim"
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            assert version[0].isdigit()
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE infra_probe"))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_pg_listens_on_loopback_only(pg_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------

PAGE_HTML = """<!doctype html>
<html>
  <head><meta charset="utf-8"><title>sibsim infra probe</title></head>
  <body>
    <h1 id="title">Social Impact Bond simulator</h1>
    <p id="static">Outcome payments: 3 milestones</p>
    <button id="go" onclick="document.getElementById('out').textContent = 'clicked ' + (2 + 3)">Go</button>
    <p id="out"></p>
  </body>
</html>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture()
def local_site(tmp_path: Path):
    """Serve tmp_path over HTTP on 127.0.0.1 from a background thread."""
    (tmp_path / "index.html").write_text(PAGE_HTML, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="infra-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.browser
def test_browser_loads_local_page(browser, local_site: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(local_site + "index.html", timeout=30_000)
        assert response is not None and response.status == 200
        assert page.title() == "sibsim infra probe"
        assert page.text_content("#title") == "Social Impact Bond simulator"
        assert "3 milestones" in page.inner_text("#static")
        page.click("#go")
        page.wait_for_function("document.getElementById('out').textContent !== ''", timeout=10_000)
        assert page.text_content("#out") == "clicked 5"
    finally:
        context.close()


@pytest.mark.browser
def test_page_fixture(page, local_site: str) -> None:
    page.goto(local_site)  # directory index serves index.html
    assert page.locator("h1").inner_text() == "Social Impact Bond simulator"
