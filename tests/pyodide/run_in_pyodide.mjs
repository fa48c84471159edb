// Run a Python script inside Pyodide (CPython compiled to WebAssembly) in Node.js, the way a
// browser page would: the npm package `ws` plays the browser's WebSocket, and Python source
// trees are written into Pyodide's in-memory file system (no host folder is mounted).
//
// usage: node run_in_pyodide.mjs CACHE_DIR SCRIPT.py [PACKAGE_DIR=TARGET ...]
//   CACHE_DIR   where scripts/install-pyodide put node_modules/pyodide and node_modules/ws
//   SCRIPT.py   run with top-level await allowed; its globals include ARGS (a dict) from
//               the environment variable PYODIDE_ARGS (JSON)
//   PACKAGE_DIR=TARGET   copy every .py file under PACKAGE_DIR to TARGET in Pyodide's FS
//               (TARGET is under /lib/site, which is put on sys.path)
// Prints what the script prints; exits 1 with the Python traceback when it raises.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [cache, script, ...trees] = process.argv.slice(2);
const modules = join(cache, "node_modules");
const require = createRequire(join(modules, "noop.js"));
globalThis.WebSocket = require("ws");
const { loadPyodide } = await import(pathToFileURL(join(modules, "pyodide", "pyodide.mjs")).href);

const pyodide = await loadPyodide({ stdout: (line) => console.log(line), stderr: (line) => console.error(line) });

function copyTree(source, target) {
  pyodide.FS.mkdirTree(target);
  for (const name of readdirSync(source)) {
    if (name === "__pycache__") continue;
    const path = join(source, name);
    if (statSync(path).isDirectory()) {
      copyTree(path, `${target}/${name}`);
    } else if (name.endsWith(".py") || name === "py.typed") {
      pyodide.FS.writeFile(`${target}/${name}`, readFileSync(path));
    }
  }
}

for (const tree of trees) {
  const [source, target] = tree.split("=");
  if (statSync(source).isDirectory()) {
    copyTree(source, target);
  } else {
    pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
    pyodide.FS.writeFile(target, readFileSync(source));
  }
}

pyodide.runPython("import sys; sys.path.insert(0, '/lib/site')");
pyodide.globals.set("ARGS", pyodide.toPy(JSON.parse(process.env.PYODIDE_ARGS ?? "{}")));
try {
  await pyodide.runPythonAsync(readFileSync(script, "utf8"), { filename: script });
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
// A WebSocket the script left open would keep Node.js running.
process.exit(0);
