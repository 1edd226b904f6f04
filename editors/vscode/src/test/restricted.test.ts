import * as assert from "node:assert/strict";
import { test } from "node:test";

import { RESTRICTED_NOTICE, refusedInRestrictedMode, restrictSettings } from "../restricted";
import { openSettingsCommand } from "../settings";

test("Restricted Mode refuses fix runs, never cancel", () => {
  for (const command of ["stomper.fixAll", "stomper.fixFile", "stomper.resume"]) {
    assert.equal(refusedInRestrictedMode(command, false), true, command);
    assert.equal(refusedInRestrictedMode(command, true), false, command);
  }
  assert.equal(refusedInRestrictedMode("stomper.cancel", false), false);
});

test("an untrusted window never sends trustWorkspace=true", () => {
  assert.deepEqual(restrictSettings({ trustWorkspace: true, select: ["F"] }, false),
    { trustWorkspace: false, select: ["F"] });
  assert.deepEqual(restrictSettings({}, false), { trustWorkspace: false });
  assert.deepEqual(restrictSettings({ trustWorkspace: true }, true), { trustWorkspace: true });
  assert.match(RESTRICTED_NOTICE, /fix runs/);
  assert.match(RESTRICTED_NOTICE, /diagnostics/);
});

test("Open Settings lands on the remote's settings in a remote window", () => {
  assert.deepEqual(openSettingsCommand("ssh-remote", "stomper.stomper"),
    ["workbench.action.openRemoteSettings", { query: "@ext:stomper.stomper" }]);
  assert.deepEqual(openSettingsCommand(undefined, "stomper.stomper"),
    ["workbench.action.openSettings", { query: "@ext:stomper.stomper" }]);
});
