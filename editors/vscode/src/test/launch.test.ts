import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import { onPath, serverCommand } from "../launch";

const nowhere = () => undefined;

test("stomper.path wins, then the interpreter, then PATH", () => {
  assert.deepEqual(serverCommand(["/opt/stomper-lsp", "--log-level", "debug"], ["/py"], nowhere),
    ["/opt/stomper-lsp", "--log-level", "debug"]);
  assert.deepEqual(serverCommand([], ["/venv/bin/python"], nowhere),
    ["/venv/bin/python", "-m", "stomper_lsp"]);
  assert.deepEqual(serverCommand(undefined, undefined, (name) => `/usr/bin/${name}`),
    ["/usr/bin/stomper-lsp"]);
  assert.equal(serverCommand([], [], nowhere), undefined);
});

test("PATH lookup finds executables only", { skip: process.platform === "win32" }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stomper-path-"));
  try {
    const plain = path.join(dir, "stomper-lsp");
    fs.writeFileSync(plain, "#!/bin/sh\n");
    assert.equal(onPath("stomper-lsp", dir), undefined);
    fs.chmodSync(plain, 0o755);
    assert.equal(onPath("stomper-lsp", ["/nonexistent", dir].join(path.delimiter)), plain);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
