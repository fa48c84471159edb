"""The browser page in headless Chromium, against the real PostgreSQL 18 and the local DSQL
endpoint's ``wss://`` listener.

Each test does what a person does: types into the page's fields, clicks its buttons, and
reads what the page shows (the rendered table, the messages) from the DOM. The rows are
compared with what the blocking driver returns for the same query on the same server.
Screenshots and the time from page load to first result are saved as artifacts (see
conftest.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import pgwire
import pgwire.dsql
from pgwire.browser.page import display
from pgwire.browser.server import PageServer, PostgresTarget
from pgwire.dsql_local.rules import rule
from tests.browser.cdp import Chromium, Page
from tests.browser.conftest import (
    ARTIFACTS,
    TOKENS,
    Site,
    artifacts_dir,
    closed_port,
    open_page,
)
from tests.pg import SCRAM_USER

#: A parameterized query over several types: text, booleans, numeric, NULL, bytea, jsonb,
#: arrays and timestamps all go through the page's rendering.
SQL = """SELECT g AS n, $1::text || g AS label, g % 2 = 0 AS even,
       (g * 1.5)::numeric(6, 2) AS price, CASE WHEN g = 2 THEN NULL ELSE g END AS maybe,
       decode('00ff', 'hex') AS raw, jsonb_build_object('g', g) AS doc,
       ARRAY[g, g * 10] AS pair,
       timestamptz '2024-05-06 07:08:09+00' + g * interval '1 day' AS at
FROM generate_series(1, $2::int) AS g ORDER BY g"""
PARAMS = ["row ", 3]


def _runs(page: Page) -> int:
    return int(page.evaluate("window.pgwirePage.runs"))


def run_query(page: Page, sql: str, params: str = "") -> None:
    """Type ``sql`` and ``params`` into the page, click Run, and wait for the outcome."""
    before = _runs(page)
    page.type_into("#sql", sql)
    page.type_into("#params", params)
    page.click("#run")
    page.wait_for(
        f"window.pgwirePage.runs > {before} || "
        "(!document.getElementById('message').hidden && !document.getElementById('run').disabled)",
        timeout=60,
        what=f"the page to run {sql[:40]!r}",
    )


def rendered_table(page: Page) -> dict[str, Any]:
    """The results table as the page shows it: header texts and cell texts (``None`` for
    a cell shown as SQL NULL)."""
    table: dict[str, Any] = page.evaluate(
        """(() => {
            const table = document.getElementById('results');
            return {
                columns: [...table.querySelectorAll('thead th')].map(th => th.textContent),
                rows: [...table.querySelectorAll('tbody tr')].map(tr =>
                    [...tr.cells].map(td => td.className === 'null' ? null : td.textContent)),
            };
        })()"""
    )
    return table


def message(page: Page) -> str:
    return page.evaluate(
        "(() => { const m = document.getElementById('message');"
        " return m.hidden ? '' : m.textContent; })()"
    )


def choose_target(page: Page, target: str) -> None:
    """Pick a target in the page's select box, as a user's choice does."""
    page.evaluate(
        f"(() => {{ const s = document.getElementById('target'); s.value = {json.dumps(target)};"
        " s.dispatchEvent(new Event('change')); })()"
    )


def what_the_page_exposes(page: Page) -> str:
    """Everything of the page where a secret must never be: its URL, the text it shows, its
    console, its cookies and storage."""
    exposed = page.evaluate(
        "JSON.stringify([location.href, document.body.innerText, document.cookie,"
        " JSON.stringify(localStorage), JSON.stringify(sessionStorage)])"
    )
    return "\n".join([exposed, *page.console()])


def expected_rows(rows: list[Any]) -> list[list[str | None]]:
    return [[display(value) for value in row] for row in rows]


def screenshot(page: Page, name: str) -> None:
    path = page.screenshot(artifacts_dir() / name)
    ARTIFACTS.append((f"screenshot {name}", str(path)))


def load_type_and_run(chromium: Chromium, site: Site) -> Page:
    """Open the page in a new tab, type the password, the query and its parameters while
    Pyodide loads (Run is enabled once pgwire is installed), click Run, wait for the
    outcome."""
    page = chromium.new_page()
    page.goto(site.server.url)
    page.wait_for("document.readyState !== 'loading'", what="the page's HTML")
    page.type_into("#password", SCRAM_USER.password or "")
    page.type_into("#sql", SQL)
    page.type_into("#params", json.dumps(PARAMS))
    page.wait_for("window.pgwirePage.ready || window.pgwirePage.failed", timeout=180)
    page.click("#run")
    page.wait_for("window.pgwirePage.runs > 0 || !document.getElementById('message').hidden")
    return page


def record_timings(page: Page, name: str) -> dict[str, float]:
    """The page's own measures (ms since it started loading), kept as an artifact."""
    timings: dict[str, float] = page.evaluate("window.pgwirePage.timings")
    ARTIFACTS.append(
        (
            f"page load to first result ({name})",
            f"{timings['firstResult'] / 1000:.2f} s (Pyodide and pgwire ready at "
            f"{timings['ready'] / 1000:.2f} s)",
        )
    )
    (artifacts_dir() / f"timings-{name}.json").write_text(json.dumps(timings))
    return timings


def test_a_typed_parameterized_query_shows_the_rows_the_blocking_driver_returns(
    chromium: Chromium, site: Site
) -> None:
    page = load_type_and_run(chromium, site)
    try:
        assert message(page) == ""
        shown = rendered_table(page)
        dsn = site.postgres.dsn(SCRAM_USER.name, SCRAM_USER.password)
        with pgwire.connect(dsn) as conn:
            rows = conn.fetch(SQL, *PARAMS)
        assert shown["columns"] == list(rows[0].keys())
        assert shown["rows"] == expected_rows(rows)
        assert shown["rows"][1][4] is None  # NULL is told apart from the text "NULL"
        assert page.text("#summary").startswith("SELECT 3 · 3 rows")
        record_timings(page, "this run's first load")
        screenshot(page, "page-postgres.png")
        assert SCRAM_USER.password not in what_the_page_exposes(page)
    finally:
        page.close()


def test_a_page_loaded_again_revalidates_pyodide_instead_of_fetching_it(
    chromium: Chromium, site: Site
) -> None:
    load_type_and_run(chromium, site).close()
    page = load_type_and_run(chromium, site)
    try:
        assert message(page) == ""
        # The browser asked again (If-None-Match) and got 304: it kept the 9 MB file, and
        # the WebAssembly compiled from it.
        wasm = page.evaluate(
            "performance.getEntriesByType('resource')"
            ".filter(e => e.name.endsWith('/pyodide/pyodide.asm.wasm'))"
            ".map(e => [e.transferSize, e.encodedBodySize])"
        )
        assert len(wasm) == 1
        transferred, size = wasm[0]
        assert size > 1_000_000
        assert transferred < 10_000
        record_timings(page, "loaded again")
    finally:
        page.close()


def test_the_same_query_through_dsqls_wss_endpoint_with_a_token_from_the_server(
    page: Page, site: Site
) -> None:
    choose_target(page, "dsql")
    assert page.evaluate("document.getElementById('url').value") == (
        site.dsql.endpoint.websocket_url
    )
    made = len(TOKENS)
    run_query(page, SQL, json.dumps(PARAMS))
    assert message(page) == ""
    with pgwire.dsql.connect(**site.dsql.wss_params()) as conn:
        rows = conn.fetch(SQL, *PARAMS)
    shown = rendered_table(page)
    assert shown["columns"] == list(rows[0].keys())
    assert shown["rows"] == expected_rows(rows)
    assert "PostgreSQL" in page.text("#connected")
    assert len(TOKENS) == made + 1
    screenshot(page, "page-dsql.png")
    exposed = what_the_page_exposes(page)
    assert all(token not in exposed for token in TOKENS)


def test_a_failing_query_shows_its_class_and_sqlstate_and_the_connection_stays(
    page: Page,
) -> None:
    page.type_into("#password", SCRAM_USER.password or "")
    run_query(page, "SELECT 1 / $1::int", "[0]")
    assert message(page) == ("Query failed: DivisionByZero: division by zero (SQLSTATE 22012)")
    assert rendered_table(page)["rows"] == []
    screenshot(page, "page-error.png")
    run_query(page, "SELECT $1::int * 2 AS doubled", "[21]")
    assert message(page) == ""
    assert rendered_table(page) == {"columns": ["doubled"], "rows": [["42"]]}


def test_dsqls_rules_show_as_dsqls_error_with_its_hint(page: Page) -> None:
    choose_target(page, "dsql")
    run_query(page, "CREATE TABLE browser_child (id int REFERENCES browser_parent (id))")
    refused = rule("foreign-key")
    assert message(page) == (
        f"Query failed: FeatureNotSupported: {refused.message} (SQLSTATE {refused.sqlstate})"
        f"\nHINT: {refused.instead}"
    )


def test_parameters_that_are_not_a_json_array_show_a_message(page: Page) -> None:
    page.type_into("#password", SCRAM_USER.password or "")
    run_query(page, "SELECT $1::int", '{"a": 1}')
    assert message(page).startswith("Query failed: InterfaceError: parameters must be a JSON")


def test_a_wrong_password_shows_the_servers_message_and_never_the_password(
    page: Page,
) -> None:
    page.type_into("#password", "not-the-password")
    page.click("#connect")
    page.wait_for("!document.getElementById('message').hidden", what="the error message")
    assert message(page) == (
        "Could not connect: InvalidPassword: password authentication failed for user "
        f'"{SCRAM_USER.name}" (SQLSTATE 28P01)'
    )
    assert page.text("#connected") == "not connected"
    assert "not-the-password" not in what_the_page_exposes(page)


def test_a_server_that_ended_the_session_shows_a_message_and_the_next_run_reconnects(
    page: Page, site: Site
) -> None:
    page.type_into("#password", SCRAM_USER.password or "")
    run_query(page, "SELECT pg_backend_pid() AS pid")
    pid = int(rendered_table(page)["rows"][0][0])
    assert site.postgres.psql(f"SELECT pg_terminate_backend({pid})") == [(True,)]
    run_query(page, "SELECT 1 AS one")
    # Either the query went out before the WebSocket closed, and the server's FATAL is the
    # answer, or the browser saw the close first and refuses to send.
    assert message(page) in (
        "Query failed: AdminShutdown: terminating connection due to administrator command "
        "(SQLSTATE 57P01)",
        "Query failed: OperationalError: could not send data to the server: "
        "cannot send: the WebSocket is closed",
    )
    assert page.text("#connected") == "not connected"
    run_query(page, "SELECT pg_backend_pid() AS pid")
    assert message(page) == ""
    assert int(rendered_table(page)["rows"][0][0]) != pid


def test_a_database_the_bridge_cannot_reach_shows_why(chromium: Chromium, site: Site) -> None:
    with PageServer(
        site.server.pyodide, postgres=PostgresTarget("127.0.0.1", closed_port())
    ) as server:
        page = open_page(chromium, server.url)
        try:
            page.click("#run")
            page.wait_for("!document.getElementById('message').hidden", what="the message")
            text = message(page)
            assert text.startswith("Could not connect: OperationalError:")
            assert f"the bridge could not reach PostgreSQL at 127.0.0.1:{server.postgres.port}" in (
                text
            )
        finally:
            page.close()


def _activity(site: Site, pid: int) -> tuple[str, str] | None:
    """The state and query of the session ``pid`` (seen as the superuser)."""
    rows = site.postgres.psql(f"SELECT state, query FROM pg_stat_activity WHERE pid = {pid}")
    return (rows[0][0], rows[0][1]) if rows else None


def _wait_for_activity(site: Site, pid: int, wanted: str) -> tuple[str, str] | None:
    """The session's state and query once its state is ``wanted`` (or after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        activity = _activity(site, pid)
        if activity is not None and activity[0] == wanted:
            return activity
        if time.monotonic() > deadline:
            return activity
        time.sleep(0.1)


@pytest.mark.parametrize("target", ["postgres", "dsql"])
def test_cancel_ends_the_query_on_the_server_and_the_connection_stays_usable(
    page: Page, site: Site, target: str
) -> None:
    choose_target(page, target)
    if target == "postgres":
        page.type_into("#password", SCRAM_USER.password or "")
    run_query(page, "SELECT pg_backend_pid() AS pid")
    pid = int(rendered_table(page)["rows"][0][0])
    before = _runs(page)
    page.type_into("#sql", "SELECT pg_sleep(120) /* cancel me */")
    page.type_into("#params", "")
    page.click("#run")
    assert _wait_for_activity(site, pid, "active") == (
        "active",
        "SELECT pg_sleep(120) /* cancel me */",
    )
    assert page.evaluate("document.getElementById('cancel').disabled") is False
    page.click("#cancel")
    page.wait_for(f"window.pgwirePage.runs > {before}", what="the cancelled query to end")
    assert message(page) == (
        "Query cancelled: QueryCanceled: canceling statement due to user request (SQLSTATE 57014)"
    )
    # The server ended it: the session is idle, its last query the cancelled one.
    assert _wait_for_activity(site, pid, "idle") == (
        "idle",
        "SELECT pg_sleep(120) /* cancel me */",
    )
    screenshot(page, f"page-cancelled-{target}.png")
    run_query(page, "SELECT pg_backend_pid() AS pid")
    assert message(page) == ""
    assert rendered_table(page)["rows"] == [[str(pid)]]
