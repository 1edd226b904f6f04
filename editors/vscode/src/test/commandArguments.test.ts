import * as assert from "node:assert/strict";
import { test } from "node:test";

import { commandArguments } from "../commandArguments";

class FakeUri {
  constructor(readonly value: string) {}
}
const uriString = (value: unknown) => (value instanceof FakeUri ? value.value : undefined);
const focus = { file: "file:///p/a.py", folder: "file:///p" };

test("from the palette: the active file or folder", () => {
  assert.deepEqual(commandArguments("stomper.fixFile", [], focus, uriString), ["file:///p/a.py"]);
  assert.deepEqual(commandArguments("stomper.fixAll", [], focus, uriString), ["file:///p"]);
  assert.deepEqual(commandArguments("stomper.cancel", [], focus, uriString), ["file:///p"]);
});

test("no editor: fixFile cannot run, fixAll and cancel mean every folder", () => {
  assert.equal(commandArguments("stomper.fixFile", [], {}, uriString), undefined);
  assert.deepEqual(commandArguments("stomper.fixAll", [], {}, uriString), []);
  assert.deepEqual(commandArguments("stomper.cancel", [], {}, uriString), []);
});

test("from the explorer: the clicked file as a string, not the selection", () => {
  const clicked = new FakeUri("file:///p/b.py");
  const args = [clicked, [clicked, new FakeUri("file:///p/c.py")]];
  assert.deepEqual(commandArguments("stomper.fixFile", args, focus, uriString), ["file:///p/b.py"]);
});

test("from a code action: the server's own argument, untouched", () => {
  assert.deepEqual(
    commandArguments("stomper.fixAll", ["file:///q"], focus, uriString),
    ["file:///q"],
  );
});
