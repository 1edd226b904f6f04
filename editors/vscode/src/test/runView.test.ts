// RunView against a recording stand-in for VS Code: the server's work-done progress
// becomes a cancellable notification whose Cancel sends window/workDoneProgress/cancel
// with the run's token, the status item follows, and the summary gets "Show log".

import * as assert from "node:assert/strict";
import { test } from "node:test";

import { FakeVscode } from "./fakeVscode";

const vscode = new FakeVscode();
vscode.install();
// Loaded after the stand-in is installed (the module imports "vscode").
const { RunView } = require("../runView") as typeof import("../runView");

class FakeClient {
  readonly sent: { method: string; params: unknown }[] = [];
  readonly handlers = new Map<string, (params: unknown) => unknown>();
  onNotification(type: { method: string }, handler: (params: unknown) => unknown) {
    this.handlers.set(type.method, handler);
    return { dispose() {} };
  }
  sendNotification(type: { method: string }, params: unknown) {
    this.sent.push({ method: type.method, params });
    return Promise.resolve();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("a fix run is a cancellable notification wired to the run's token", async () => {
  let logShown = 0;
  const view = new RunView(() => { logShown += 1; });
  const client = new FakeClient();
  view.attach(client as never);
  const middleware = view.middleware();
  const passed: string[] = [];
  const next = (_token: unknown, params: { kind: string }) => { passed.push(params.kind); };
  const progress = middleware.handleWorkDoneProgress!;

  progress("tok-1", { kind: "begin", title: "Stomper: fixing proj", cancellable: true, message: "Preparing…", percentage: 0 }, next as never);
  assert.equal(vscode.progress.length, 1);
  const shown = vscode.progress[0];
  assert.deepEqual(shown.options, {
    location: vscode.module.ProgressLocation.Notification, title: "Stomper: fixing proj", cancellable: true,
  });
  assert.deepEqual(shown.reports, [{ message: "Preparing…", increment: 0 }]);
  assert.equal(vscode.item.text, "$(sync~spin) Stomper: preparing");

  progress("tok-1", { kind: "report", message: "1/4 files · 3 running", percentage: 25 }, next as never);
  progress("tok-1", { kind: "report", message: "2/4 files · 2 running", percentage: 50 }, next as never);
  assert.deepEqual(shown.reports.slice(1), [
    { message: "1/4 files · 3 running", increment: 25 },
    { message: "2/4 files · 2 running", increment: 25 },
  ]);
  assert.equal(vscode.item.text, "$(sync~spin) Stomper: fixing 2 of 4");
  assert.deepEqual(passed, [], "begin and report stay out of the client's status-bar progress");

  // The notification's Cancel button, and a click on the status item, cancel by token.
  shown.cancel();
  const click = vscode.item.command as { command: string };
  await vscode.commands.get(click.command)!();
  assert.deepEqual(client.sent, [
    { method: "window/workDoneProgress/cancel", params: { token: "tok-1" } },
    { method: "window/workDoneProgress/cancel", params: { token: "tok-1" } },
  ]);

  const summary = "Stomper: 1 file fixed (2 issues), 1 failed, 1 issue left. Details in the Stomper log.";
  progress("tok-1", { kind: "end", message: summary.replace("Stomper: ", "") }, next as never);
  await tick();
  assert.equal(shown.settled, true, "the notification closes when the run ends");
  assert.deepEqual(passed, ["end"]);
  assert.equal(vscode.item.text, "$(check) Stomper");
  assert.equal((vscode.item.command as { command: string }).command, "stomper.showLog");

  // The server's summary (window/showMessage) gets a Show log button that shows the log.
  vscode.choice = "Show log";
  await client.handlers.get("window/showMessage")!({ type: 3, message: summary });
  assert.deepEqual(vscode.messages.at(-1), { severity: "info", message: summary, actions: ["Show log"] });
  assert.equal(logShown, 1);
  vscode.choice = undefined;
  await client.handlers.get("window/showMessage")!({ type: 3, message: "Stomper: no fix run to cancel." });
  assert.deepEqual(vscode.messages.at(-1), { severity: "info", message: "Stomper: no fix run to cancel.", actions: [] });
  view.dispose();
});

test("a stopped client closes the notifications of its runs", async () => {
  const view = new RunView(() => {});
  view.attach(new FakeClient() as never);
  const before = vscode.progress.length;
  view.middleware().handleWorkDoneProgress!("tok-2", { kind: "begin", title: "Stomper: fixing x", cancellable: true }, (() => {}) as never);
  view.attach(undefined);
  await tick();
  assert.equal(vscode.progress[before].settled, true);
  assert.equal(vscode.item.text, "$(check) Stomper");
  view.dispose();
});

test("a slow diagnostics pull shows checking; a quick one does not flicker", async () => {
  const view = new RunView(() => {});
  view.attach(new FakeClient() as never);
  const pull = view.middleware().provideDiagnostics!;
  const answer = (ms: number) => () =>
    new Promise((resolve) => setTimeout(() => resolve({ kind: "full", items: [] }), ms));
  const texts: string[] = [];
  const watch = setInterval(() => texts.push(vscode.item.text), 20);
  await pull("file:///a.py" as never, undefined, {} as never, answer(50) as never);
  assert.ok(!texts.includes("$(sync~spin) Stomper: checking"), "a 50 ms pull stays idle");
  const slow = pull("file:///a.py" as never, undefined, {} as never, answer(700) as never);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(vscode.item.text, "$(sync~spin) Stomper: checking");
  await slow;
  clearInterval(watch);
  assert.equal(vscode.item.text, "$(check) Stomper");
  view.dispose();
});
