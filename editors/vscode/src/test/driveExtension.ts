// Runs the real bundled extension (dist/extension.js, with vscode-languageclient inside)
// under node against a real Stomper server, with the recording stand-in for VS Code:
// activate, "Stomper: Fix all", wait for the run's progress notification, press its
// Cancel, and report what VS Code was asked to show as JSON on stdout.
// tests/editors/test_vscode_extension.py drives it; not a node:test file on its own.
//
// argv: <extension folder> <project root> <settings JSON (stomper.* keys, user settings)>

import * as path from "node:path";

import { FakeUri, FakeVscode } from "./fakeVscode";

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

const vscode = new FakeVscode();

async function main(): Promise<void> {
  const [extensionDir, root, settings] = process.argv.slice(2);
  vscode.settings = JSON.parse(settings);
  vscode.folders = [{ uri: FakeUri.file(root), name: path.basename(root), index: 0 }];
  vscode.install();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const extension = require(path.join(extensionDir, "dist", "extension.js"));
  const context = {
    subscriptions: [] as { dispose(): unknown }[],
    extensionPath: extensionDir,
    extension: {
      id: "stomper.stomper",
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      packageJSON: require(path.join(extensionDir, "package.json")),
    },
  };
  const started = Date.now();
  await extension.activate(context);
  // The client registers the server's commands once the server advertises them.
  const fixAll = await until("stomper.fixAll", () => vscode.commands.get("stomper.fixAll"));
  const result = await fixAll();
  const notification = await until("the progress notification", () =>
    vscode.progress.find((p) => p.options.location === vscode.module.ProgressLocation.Notification));
  await until("the agent to run", () =>
    notification.reports.some((r) => (r.message ?? "").includes("1 running")));
  const statusWhileFixing = vscode.item.text;
  notification.cancel(); // the Cancel button
  await until("the notification to close", () => notification.settled);
  const cancelled = await until("the cancel message", () =>
    vscode.messages.find((m) => m.message.includes("cancelled")));
  const cancelNothing = vscode.commands.get("stomper.cancel")!;
  await cancelNothing();
  const nothing = await until("the nothing-to-cancel message", () =>
    vscode.messages.find((m) => m.message.includes("no fix run to cancel")));
  await extension.deactivate();
  process.stdout.write(JSON.stringify({
    result,
    notification: { options: notification.options, reports: notification.reports },
    statusWhileFixing,
    statusAfter: vscode.item.text,
    cancelled,
    nothing,
    output: vscode.output.filter((line) => line.startsWith("Starting the server")),
    seconds: (Date.now() - started) / 1000,
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
