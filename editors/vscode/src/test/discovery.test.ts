import * as assert from "node:assert/strict";
import { test } from "node:test";

import { DiscoveryInputs, discoverServer, expandHome, insideAny, notFoundMessage } from "../discovery";

const base: DiscoveryInputs = {
  python: { missing: "the Python extension is not installed" },
  trusted: true,
  trustWorkspace: false,
  folders: ["/home/me/proj"],
};

/** Probes that record which interpreters were run. */
function probes(installedIn: string[] = [], onPath?: string) {
  const ran: string[] = [];
  return {
    ran,
    hasModule: async (python: string) => {
      ran.push(python);
      return installedIn.includes(python);
    },
    onPath: (name: string) => (onPath ? `${onPath}/${name}` : undefined),
  };
}

test("stomper.path wins over everything, then stomper.interpreter", async () => {
  const p = probes(["/usr/bin/python3"], "/usr/bin");
  const withPython = { ...base, python: { interpreter: "/usr/bin/python3" } };
  assert.deepEqual(
    await discoverServer({ ...withPython, path: ["/opt/stomper-lsp", "--log-level", "debug"], interpreter: ["/py"] }, p),
    { argv: ["/opt/stomper-lsp", "--log-level", "debug"], source: "stomper.path", tried: [] },
  );
  const found = await discoverServer({ ...withPython, path: [], interpreter: ["/venv/bin/python"] }, p);
  assert.deepEqual(found.argv, ["/venv/bin/python", "-m", "stomper_lsp"]);
  assert.equal(found.source, "stomper.interpreter");
  assert.deepEqual(p.ran, [], "nothing is run to choose an explicit setting");
});

test("the Python extension's interpreter when Stomper is installed there, else PATH", async () => {
  const withPython = { ...base, python: { interpreter: "/usr/bin/python3" } };
  let p = probes(["/usr/bin/python3"], "/usr/bin");
  let found = await discoverServer(withPython, p);
  assert.deepEqual(found.argv, ["/usr/bin/python3", "-m", "stomper_lsp"]);
  assert.equal(found.source, "the Python extension's interpreter");

  p = probes([], "/home/me/.local/bin");
  found = await discoverServer(withPython, p);
  assert.deepEqual(found.argv, ["/home/me/.local/bin/stomper-lsp"]);
  assert.equal(found.source, "PATH");
  assert.deepEqual(p.ran, ["/usr/bin/python3"]);
  assert.match(found.tried.join("\n"), /\/usr\/bin\/python3 \(no stomper_lsp module there\)/);

  // A probe that throws (the interpreter vanished) counts as "not installed there".
  found = await discoverServer(withPython, {
    hasModule: async () => { throw new Error("ENOENT"); },
    onPath: () => undefined,
  });
  assert.equal(found.argv, undefined);
});

test("a workspace's own interpreter is not run unless trustWorkspace, nor anything in Restricted Mode", async () => {
  const venv = { ...base, python: { interpreter: "/home/me/proj/.venv/bin/python" } };
  let p = probes(["/home/me/proj/.venv/bin/python"]);
  let found = await discoverServer(venv, p);
  assert.equal(found.argv, undefined);
  assert.deepEqual(p.ran, [], "the workspace's interpreter must not even be probed");
  assert.match(found.tried.join("\n"), /inside the workspace.*stomper\.trustWorkspace/);

  p = probes(["/home/me/proj/.venv/bin/python"]);
  found = await discoverServer({ ...venv, trustWorkspace: true }, p);
  assert.deepEqual(found.argv, ["/home/me/proj/.venv/bin/python", "-m", "stomper_lsp"]);

  p = probes(["/home/me/proj/.venv/bin/python"]);
  found = await discoverServer({ ...venv, trustWorkspace: true, trusted: false }, p);
  assert.equal(found.argv, undefined);
  assert.deepEqual(p.ran, []);
  assert.match(found.tried.join("\n"), /Restricted Mode/);
});

test("nothing found: the message names every place tried", async () => {
  const found = await discoverServer(base, probes());
  assert.equal(found.argv, undefined);
  assert.deepEqual(found.tried, [
    "stomper.path (not set)",
    "stomper.interpreter (not set)",
    "the Python extension's interpreter (the Python extension is not installed)",
    "`stomper-lsp` on PATH (not found)",
  ]);
  const message = notFoundMessage(found.tried);
  for (const place of found.tried) {
    assert.ok(message.includes(place), place);
  }
  assert.match(message, /pipx install <clone or wheel>/);
  assert.doesNotMatch(message, /pipx install stomper-lsp/, "not on any index: that command fails");
});

test("insideAny: a path in a folder, not one that merely shares its prefix", () => {
  assert.equal(insideAny("/home/me/proj/.venv/bin/python", ["/home/me/proj"]), true);
  assert.equal(insideAny("/home/me/proj", ["/home/me/proj"]), true);
  assert.equal(insideAny("/home/me/project2/bin/python", ["/home/me/proj"]), false);
  assert.equal(insideAny("/usr/bin/python3", ["/home/me/proj", "/srv/x"]), false);
});

test("~ and ${userHome} in stomper.path and stomper.interpreter mean the home folder", async () => {
  assert.equal(expandHome("~/.venvs/s/bin/stomper-lsp", "/home/me"), "/home/me/.venvs/s/bin/stomper-lsp");
  assert.equal(expandHome("${userHome}/bin/x", "/home/me"), "/home/me/bin/x");
  assert.equal(expandHome("/opt/~x", "/home/me"), "/opt/~x");
  assert.equal(expandHome("~other/x", "/home/me"), "~other/x");
  const found = await discoverServer(
    { ...base, home: "/home/me", interpreter: ["~/.venvs/s/bin/python"] }, probes());
  assert.deepEqual(found.argv, ["/home/me/.venvs/s/bin/python", "-m", "stomper_lsp"]);
  const explicit = await discoverServer(
    { ...base, home: "/home/me", path: ["~/bin/stomper-lsp", "--log-level", "debug"] }, probes());
  assert.deepEqual(explicit.argv, ["/home/me/bin/stomper-lsp", "--log-level", "debug"]);
});
