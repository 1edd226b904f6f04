import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import { hasModule, onPath } from "../launch";

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

function python(): string | undefined {
  for (const name of ["python3", "python"]) {
    try {
      execFileSync(name, ["-c", "pass"], { stdio: "ignore" });
      return name;
    } catch {
      // next
    }
  }
  return undefined;
}

const interpreter = python();

test("hasModule asks the real interpreter, from the folder given, not the caller's", {
  skip: interpreter === undefined ? "no python3 on PATH" : false,
}, async () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "stomper-ws-"));
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "stomper-cwd-"));
  try {
    // A package in the "workspace" is importable from there only.
    fs.mkdirSync(path.join(workspace, "planted_module"));
    fs.writeFileSync(path.join(workspace, "planted_module", "__init__.py"), "");
    assert.equal(await hasModule(interpreter!, "json", elsewhere), true);
    assert.equal(await hasModule(interpreter!, "planted_module", workspace), true);
    assert.equal(await hasModule(interpreter!, "planted_module", elsewhere), false);
    assert.equal(await hasModule(path.join(elsewhere, "no-such-python"), "json", elsewhere), false);
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});
