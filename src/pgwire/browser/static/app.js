// The page: loads Pyodide from this server, installs pgwire's wheels into it, and drives
// pgwire.browser.page.PageSession with JSON strings. Everything shown is set as text (never
// as HTML). Passwords and tokens go from the form to Python only: they are never logged,
// never put in the URL, and never shown.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const $ = (id) => document.getElementById(id);
const state = { session: null, targets: [], running: false };
// Milliseconds since the page started loading (performance's time origin).
const timings = {};
window.pgwirePage = { timings, ready: false, runs: 0 };

function setStatus(text) {
  $("status").textContent = text;
}

function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function describe(error) {
  if (error.sqlstate) {
    const lines = [`${error.class}: ${error.message} (SQLSTATE ${error.sqlstate})`];
    if (error.detail) lines.push(`DETAIL: ${error.detail}`);
    if (error.hint) lines.push(`HINT: ${error.hint}`);
    return lines.join("\n");
  }
  return `${error.class}: ${error.text}`;
}

function currentTarget() {
  return state.targets.find((t) => t.id === $("target").value);
}

// A target chosen fills the form; at start, only the fields still empty (a person may
// have typed while Pyodide loaded).
function fillTarget(chosen = true) {
  const target = currentTarget();
  if (!target) return;
  for (const field of ["url", "user", "database"]) {
    if (chosen || !$(field).value) $(field).value = target[field];
  }
  if (chosen) $("password").value = "";
  const token = target.auth === "token";
  $("password-label").textContent = token ? "IAM token" : "Password";
  $("password").placeholder = token ? "empty: the page's server makes one" : "";
}

function setRunning(running) {
  state.running = running;
  $("run").disabled = running || !state.session;
  $("connect").disabled = running || !state.session;
  $("cancel").disabled = !running;
}

function renderTable(columns, rows) {
  const table = $("results");
  table.replaceChildren();
  if (!columns) return;
  const head = table.createTHead().insertRow();
  for (const name of columns) {
    const th = document.createElement("th");
    th.textContent = name;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const value of row) {
      const td = tr.insertCell();
      if (value === null) {
        td.textContent = "NULL";
        td.className = "null";
      } else {
        td.textContent = value;
      }
    }
  }
}

async function call(method, ...args) {
  return JSON.parse(await state.session[method](...args));
}

async function connect() {
  const target = currentTarget();
  const request = JSON.stringify({
    url: $("url").value,
    user: $("user").value,
    database: $("database").value,
    password: $("password").value,
    auth: target ? target.auth : "password",
  });
  $("connected").textContent = "connecting…";
  const reply = await call("connect", request);
  if (!reply.ok) {
    $("connected").textContent = "not connected";
    showMessage(`Could not connect: ${describe(reply.error)}`);
    return false;
  }
  $("connected").textContent = `connected: PostgreSQL ${reply.server_version}, backend ${reply.backend_pid}`;
  return true;
}

async function onConnect() {
  clearMessage();
  setRunning(true);
  try {
    await connect();
  } finally {
    setRunning(false);
  }
}

async function onRun() {
  if (state.running) return;
  clearMessage();
  setRunning(true);
  $("summary").textContent = "running…";
  try {
    if (!state.session.connected && !(await connect())) {
      $("summary").textContent = "";
      return;
    }
    const reply = await call("run", $("sql").value, $("params").value);
    window.pgwirePage.runs += 1;
    if (!reply.ok) {
      $("summary").textContent = "";
      renderTable(null, []);
      const cancelled = reply.error.sqlstate === "57014";
      showMessage(`${cancelled ? "Query cancelled" : "Query failed"}: ${describe(reply.error)}`);
      if (reply.connected === false) $("connected").textContent = "not connected";
      return;
    }
    renderTable(reply.columns, reply.rows || []);
    const shown = reply.columns
      ? `${reply.row_count} row${reply.row_count === 1 ? "" : "s"}` +
        (reply.row_count > reply.rows.length ? ` (first ${reply.rows.length} shown)` : "")
      : "no rows";
    $("summary").textContent = `${reply.tags.join(", ") || "done"} · ${shown} · ${reply.ms} ms`;
    if (timings.firstResult === undefined) {
      timings.firstResult = performance.now();
      $("timings").textContent =
        `ready ${(timings.ready / 1000).toFixed(2)} s, first result ` +
        `${(timings.firstResult / 1000).toFixed(2)} s after the page started loading`;
    }
  } finally {
    setRunning(false);
  }
}

async function onCancel() {
  if (!state.running) return;
  $("cancel").disabled = true;
  $("summary").textContent = "cancelling…";
  const reply = await call("cancel");
  if (!reply.ok) showMessage(`Could not cancel: ${describe(reply.error)}`);
}

async function installWheels(pyodide, names) {
  const site = pyodide.runPython("import sysconfig; sysconfig.get_path('purelib')");
  const files = await Promise.all(
    names.map(async (name) => {
      const response = await fetch(`wheels/${name}`);
      if (!response.ok) throw new Error(`wheels/${name}: HTTP ${response.status}`);
      return response.arrayBuffer();
    }),
  );
  for (const data of files) pyodide.unpackArchive(data, "wheel", { extractDir: site });
}

async function boot() {
  setStatus("Loading Pyodide…");
  const config = await (await fetch("api/config", { cache: "no-store" })).json();
  state.targets = config.targets;
  for (const target of config.targets) {
    const option = document.createElement("option");
    option.value = target.id;
    option.textContent = target.label;
    $("target").appendChild(option);
  }
  fillTarget(false);
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
  setStatus("Installing pgwire…");
  await installWheels(pyodide, config.wheels);
  state.session = pyodide.runPython(
    "from pgwire.browser.page import PageSession\nPageSession()",
  );
  const version = pyodide.runPython("import sys, pgwire; f'pgwire {pgwire.__version__}, Python {sys.version.split()[0]}'");
  timings.ready = performance.now();
  setStatus(`${version} in Pyodide ${pyodide.version}: ready`);
  setRunning(false);
  window.pgwirePage.ready = true;
}

$("target").addEventListener("change", () => fillTarget());
$("connect").addEventListener("click", onConnect);
$("run").addEventListener("click", onRun);
$("cancel").addEventListener("click", onCancel);
$("sql").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    onRun();
  }
});

boot().catch((error) => {
  setStatus("failed to start");
  showMessage(`The page could not start: ${error}`);
  window.pgwirePage.failed = String(error);
});
