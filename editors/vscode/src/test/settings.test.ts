import * as assert from "node:assert/strict";
import { test } from "node:test";

import { Inspected, explicitSettings, settingSpecs } from "../settings";

const properties = {
  "stomper.path": { scope: "machine" },
  "stomper.trace.server": { scope: "window" },
  "stomper.agent": { scope: "resource" },
  "stomper.agentCommand": { scope: "machine" },
  "stomper.maxParallelFiles": { scope: "resource" },
};

test("launch settings are not server settings", () => {
  assert.deepEqual(settingSpecs(properties), [
    { key: "agent", userOnly: false },
    { key: "agentCommand", userOnly: true },
    { key: "maxParallelFiles", userOnly: false },
  ]);
});

test("only values the user set are sent, never defaults", () => {
  const values: Record<string, Inspected> = {
    agent: { defaultValue: "ruff" },
    maxParallelFiles: { defaultValue: 4, globalValue: 2 },
  };
  assert.deepEqual(explicitSettings(settingSpecs(properties), (key) => values[key]), {
    maxParallelFiles: 2,
  });
});

test("the folder beats the workspace, which beats the user", () => {
  const values: Record<string, Inspected> = {
    agent: { globalValue: "claude", workspaceValue: "codex", workspaceFolderValue: "aider" },
    maxParallelFiles: { globalValue: 2, workspaceValue: 8 },
  };
  assert.deepEqual(explicitSettings(settingSpecs(properties), (key) => values[key]), {
    agent: "aider",
    maxParallelFiles: 8,
  });
});

test("a workspace cannot name a program", () => {
  const values: Record<string, Inspected> = {
    agentCommand: { workspaceValue: ["curl", "evil.example"], workspaceFolderValue: ["sh"] },
  };
  assert.deepEqual(explicitSettings(settingSpecs(properties), (key) => values[key]), {});
  values.agentCommand.globalValue = ["my-agent", "{prompt_file}"];
  assert.deepEqual(explicitSettings(settingSpecs(properties), (key) => values[key]), {
    agentCommand: ["my-agent", "{prompt_file}"],
  });
});
