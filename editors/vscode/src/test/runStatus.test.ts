import * as assert from "node:assert/strict";
import { test } from "node:test";

import { MessageType, RunStatus, filesDone, messageActions } from "../runStatus";

test("progress messages of the server read as files done of total", () => {
  // The server's wording: stomper_lsp/server/run_progress.py progress_message.
  assert.deepEqual(filesDone("3/10 files · 2 running · started pkg/mod.py"), { done: 3, total: 10 });
  assert.deepEqual(filesDone("0/1 files · 0 running"), { done: 0, total: 1 });
  assert.equal(filesDone("Preparing…"), undefined);
  assert.equal(filesDone(undefined), undefined);
});

test("idle, then fixing n of m, then idle with the last run's summary", () => {
  const status = new RunStatus();
  assert.equal(status.view().state, "idle");
  assert.equal(status.view().click, "showLog");

  status.progress("t1", { kind: "begin", title: "Stomper: fixing proj", message: "Preparing…", cancellable: true });
  let view = status.view();
  assert.equal(view.state, "fixing");
  assert.equal(view.text, "$(sync~spin) Stomper: preparing");
  assert.equal(view.click, "cancel");
  assert.match(view.tooltip, /Stomper: fixing proj: Preparing…/);

  status.progress("t1", { kind: "report", message: "2/5 files · 3 running", percentage: 40 });
  view = status.view();
  assert.equal(view.text, "$(sync~spin) Stomper: fixing 2 of 5");
  assert.deepEqual(status.activeRuns(), ["t1"]);

  status.progress("t1", { kind: "end", message: "2 files fixed (3 issues), 1 issue left. Details in the Stomper log." });
  view = status.view();
  assert.equal(view.state, "idle");
  assert.equal(view.click, "showLog");
  assert.match(view.tooltip, /Last run: 2 files fixed/);
  assert.deepEqual(status.activeRuns(), []);
});

test("two folders fixing at once add up; a report without counts keeps the last ones", () => {
  const status = new RunStatus();
  status.progress(1, { kind: "begin", title: "Stomper: fixing a" });
  status.progress(2, { kind: "begin", title: "Stomper: fixing b" });
  status.progress(1, { kind: "report", message: "1/4 files · 1 running" });
  status.progress(2, { kind: "report", message: "2/3 files · 0 running" });
  assert.equal(status.view().text, "$(sync~spin) Stomper: fixing 3 of 7");
  status.progress(2, { kind: "report", message: "something else" });
  assert.equal(status.view().text, "$(sync~spin) Stomper: fixing 3 of 7");
  status.progress(2, { kind: "end" });
  assert.equal(status.view().text, "$(sync~spin) Stomper: fixing 1 of 4");
  assert.deepEqual(status.activeRuns(), ["1"]);
});

test("checking shows while a pull is in flight, fixing wins over it", () => {
  const status = new RunStatus();
  status.checkStarted();
  status.checkStarted();
  assert.equal(status.view().state, "checking");
  status.checkFinished();
  assert.equal(status.view().state, "checking");
  status.progress("t", { kind: "begin", title: "Stomper: fixing x" });
  assert.equal(status.view().state, "fixing");
  status.progress("t", { kind: "end" });
  status.checkFinished();
  status.checkFinished(); // more finishes than starts: never negative
  assert.equal(status.view().state, "idle");
  status.checkStarted();
  assert.equal(status.view().state, "checking");
});

test("progress of an unknown token is ignored; reset ends every run", () => {
  const status = new RunStatus();
  assert.equal(status.progress("nobody", { kind: "report", message: "1/2 files" }), false);
  assert.equal(status.view().state, "idle");
  status.progress("t", { kind: "begin", title: "Stomper: fixing x" });
  status.checkStarted();
  status.reset();
  assert.equal(status.view().state, "idle");
  assert.deepEqual(status.activeRuns(), []);
});

test("the run's summary gets a Show log button, once; warnings and errors always", () => {
  const status = new RunStatus();
  const summary = "Stomper: 1 file fixed (2 issues), 1 failed, 3 issues left. Details in the Stomper log.";
  status.progress("t", { kind: "begin", title: "Stomper: fixing x" });
  assert.equal(status.isSummary(summary), false);
  status.progress("t", { kind: "end", message: summary.replace("Stomper: ", "") });
  assert.equal(status.isSummary("Stomper: no fix run to cancel."), false);
  assert.equal(status.isSummary(summary), true);
  assert.equal(status.isSummary(summary), false);
  assert.deepEqual(messageActions(MessageType.Info, true), ["Show log"]);
  assert.deepEqual(messageActions(MessageType.Info, false), []);
  assert.deepEqual(messageActions(MessageType.Warning, false), ["Show log"]);
  assert.deepEqual(messageActions(MessageType.Error, false), ["Show log"]);
});

test("Restricted Mode shows on the idle item", () => {
  const status = new RunStatus();
  status.restricted = true;
  assert.equal(status.view().text, "$(shield) Stomper");
  assert.match(status.view().tooltip, /Restricted Mode.*fix runs are off/);
  status.checkStarted();
  assert.equal(status.view().state, "checking");
});
