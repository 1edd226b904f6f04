// Runs the real bundled extension (dist/extension.js, with vscode-languageclient inside)
// under node against a real Stomper server, with the recording stand-in for VS Code, and
// reports what VS Code was asked to show as JSON on stdout.
// tests/editors/test_vscode_extension.py drives it; not a node:test file on its own.
//
// argv: <extension folder> <project root> <scenario> <JSON: {settings, trusted, remoteName}>
// scenarios:
//   cancel     Fix all, wait for the run's notification, press its Cancel, then cancel again
//   summary    Fix all to the end, press the summary's Show log
//   restricted (untrusted workspace) Fix all is refused
//   missing    no server anywhere: the error, then its Open Settings
//   started    the server starts (which command: the output's first line)

import * as path from "node:path";

import { FakeUri, FakeVscode } from "./fakeVscode";

const vscode = new FakeVscode();

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const notificationShown = () =>
  vscode.progress.find((p) => p.options.location === vscode.module.ProgressLocation.Notification);

async function command(id: string): Promise<unknown> {
  const run = await until(id, () => vscode.commands.get(id));
  return run();
}

const scenarios: Record<string, () => Promise<Record<string, unknown>>> = {
  async cancel() {
    const result = await command("stomper.fixAll");
    const notification = await until("the progress notification", notificationShown);
    await until("the agent to run", () =>
      notification.reports.some((r) => (r.message ?? "").includes("1 running")));
    const statusWhileFixing = vscode.item.text;
    notification.cancel(); // the Cancel button
    await until("the notification to close", () => notification.settled);
    const cancelled = await until("the cancel message", () =>
      vscode.messages.find((m) => m.message.includes("cancelled")));
    await command("stomper.cancel");
    const nothing = await until("the nothing-to-cancel message", () =>
      vscode.messages.find((m) => m.message.includes("no fix run to cancel")));
    return {
      result,
      notification: { options: notification.options, reports: notification.reports },
      statusWhileFixing,
      statusAfter: vscode.item.text,
      cancelled,
      nothing,
    };
  },

  async summary() {
    vscode.choice = "Show log";
    const result = await command("stomper.fixAll");
    const notification = await until("the progress notification", notificationShown);
    await until("the notification to close", () => notification.settled, 60000);
    const summary = await until("the summary", () =>
      vscode.messages.find((m) => m.message.includes("issue")));
    await until("the log", () => vscode.outputShown > 0);
    return { result, summary, statusAfter: vscode.item.text, statusTooltip: vscode.item.tooltip };
  },

  async restricted() {
    const refused = await command("stomper.fixAll");
    const warning = await until("the refusal", () =>
      vscode.messages.find((m) => m.message.includes("fix runs are off")));
    return {
      status: vscode.item.text,
      refused: refused ?? null,
      notice: vscode.messages[0],
      warning,
      notifications: vscode.progress.length,
    };
  },

  async started() {
    // Registered once the server answered initialize (not run: nothing to cancel at exit).
    await until("stomper.fixAll", () => vscode.commands.get("stomper.fixAll"));
    return {};
  },

  async missing() {
    const error = await until("the error", () => vscode.messages.find((m) => m.severity === "error"));
    const opened = await until("Open Settings", () =>
      vscode.executed.find((args) => String(args[0]).includes("Settings")));
    return { error, opened };
  },
};

async function main(): Promise<void> {
  const [extensionDir, root, scenario, options] = process.argv.slice(2);
  const given = JSON.parse(options) as {
    settings: Record<string, unknown>;
    trusted?: boolean;
    remoteName?: string;
    /** The interpreter a stand-in Python extension (ms-python.python) has selected. */
    python?: string;
  };
  vscode.settings = given.settings;
  vscode.trusted = given.trusted ?? true;
  vscode.module.env.remoteName = given.remoteName;
  vscode.folders = [{ uri: FakeUri.file(root), name: path.basename(root), index: 0 }];
  if (given.python !== undefined) {
    vscode.pythonExtension(given.python);
  }
  vscode.install();
  if (scenario === "missing") {
    vscode.choice = "Open Settings"; // clicked on the error activation shows
  }
  const extension = require(path.join(extensionDir, "dist", "extension.js"));
  const context = {
    subscriptions: [] as { dispose(): unknown }[],
    extensionPath: extensionDir,
    workspaceState: (() => {
      const state = new Map<string, unknown>();
      return { get: (key: string) => state.get(key), update: async (key: string, value: unknown) => { state.set(key, value); } };
    })(),
    extension: {
      id: "stomper.stomper",
      packageJSON: require(path.join(extensionDir, "package.json")),
    },
  };
  await extension.activate(context);
  const seen = await scenarios[scenario]();
  // A loaded machine can make vscode-languageclient's 2 s stop timeout expire: reported,
  // not fatal (the server's own exit is tested over raw stdio, tests/server).
  const stopError = await extension.deactivate().then(() => null, (error: unknown) => String(error));
  process.stdout.write(JSON.stringify({
    ...seen,
    stopError,
    output: vscode.output.filter((line) => line.startsWith("Starting the server")),
  }));
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.stderr.write(`messages: ${JSON.stringify(vscode.messages)}\n`);
    process.stderr.write(`output:\n${vscode.output.join("\n")}\n`);
    process.exit(1);
  },
);
