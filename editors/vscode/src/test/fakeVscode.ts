// A stand-in for the `vscode` module, enough for RunView and for running the real bundled
// extension (with vscode-languageclient) under plain node against a real server: it
// records what the extension asks VS Code to show. Anything not modelled here absorbs
// every use (call it, construct it, read any property: another such stand-in).

import Module = require("node:module");
import * as path from "node:path";
import { pathToFileURL } from "node:url";

/** A value that accepts any use and does nothing; never thenable (await passes through). */
export function absorb(): any {
  const target = function absorbed() {};
  return new Proxy(target, {
    get: (_t, name) => {
      if (name === "then") return undefined;
      if (name === Symbol.iterator) return function* () {};
      if (name === Symbol.toPrimitive) return () => "";
      return absorb();
    },
    apply: () => absorb(),
    construct: () => absorb(),
  });
}

/** Enough of vscode.Uri for file: URIs. */
export class FakeUri {
  private constructor(readonly scheme: string, readonly fsPath: string, private readonly text: string) {}
  get path(): string {
    return new URL(this.text).pathname;
  }
  static file(file: string): FakeUri {
    return new FakeUri("file", path.resolve(file), pathToFileURL(path.resolve(file)).href);
  }
  static parse(text: string): FakeUri {
    const url = new URL(text);
    return new FakeUri(url.protocol.replace(/:$/, ""), decodeURIComponent(url.pathname), text);
  }
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
  with(): FakeUri {
    return this;
  }
}

export interface ProgressCall {
  options: { location: number; title?: string; cancellable?: boolean };
  reports: { message?: string; increment?: number }[];
  cancel: () => void;
  settled: boolean;
}

export interface MessageCall {
  severity: "info" | "warning" | "error";
  message: string;
  actions: string[];
}

let fake: FakeVscode;

export class FakeVscode {
  readonly progress: ProgressCall[] = [];
  readonly messages: MessageCall[] = [];
  readonly commands = new Map<string, (...args: unknown[]) => unknown>();
  readonly executed: unknown[][] = [];
  readonly item = { text: "", tooltip: "", name: "", command: undefined as unknown, show() {}, dispose() {} };
  readonly output: string[] = [];
  outputShown = 0;
  /** What the user clicks on the next message. */
  choice: string | undefined;
  /** The user's settings (`stomper.*` keys without the prefix), as `inspect().globalValue`. */
  settings: Record<string, unknown> = {};
  folders: { uri: FakeUri; name: string; index: number }[] = [];
  trusted = true;

  readonly module = {
    Uri: FakeUri,
    version: "1.100.0",
    env: { appName: "Fake VS Code", language: "en", remoteName: undefined as string | undefined },
    extensions: { getExtension: () => undefined },
    workspace: {
      get workspaceFolders() { return fake.folders; },
      get isTrusted() { return fake.trusted; },
      textDocuments: [],
      getWorkspaceFolder: (uri: FakeUri) =>
        fake.folders.find((f) => (uri.fsPath + path.sep).startsWith(f.uri.fsPath + path.sep)),
      getConfiguration: (section?: string) => {
        const prefix = section ? `${section}.` : "";
        const key = (name: string) => (prefix + name).replace(/^stomper\./, "");
        return {
          get: (name: string, fallback?: unknown) => fake.settings[key(name)] ?? fallback,
          has: (name: string) => key(name) in fake.settings,
          inspect: (name: string) => ({ key: name, globalValue: fake.settings[key(name)] }),
          update: async () => {},
        };
      },
      onDidGrantWorkspaceTrust: () => absorb(),
      applyEdit: async () => true,
      onDidChangeConfiguration: () => absorb(),
    },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    window: {
      activeTextEditor: undefined,
      visibleTextEditors: [],
      tabGroups: { all: [], onDidChangeTabs: () => absorb(), onDidChangeTabGroups: () => absorb() },
      createOutputChannel: () => ({
        name: "Stomper",
        append: (text: string) => this.output.push(text),
        appendLine: (text: string) => this.output.push(text),
        replace: () => {}, clear: () => {}, show: () => { this.outputShown += 1; },
        hide: () => {}, dispose: () => {},
      }),
      createStatusBarItem: () => this.item,
      withProgress: (
        options: ProgressCall["options"],
        task: (progress: unknown, token: unknown) => Promise<void>,
      ) => {
        let cancelled: (() => void) | undefined;
        const call: ProgressCall = {
          options, reports: [], settled: false, cancel: () => cancelled?.(),
        };
        this.progress.push(call);
        const progress = { report: (value: { message?: string; increment?: number }) => call.reports.push(value) };
        const token = { onCancellationRequested: (listener: () => void) => { cancelled = listener; } };
        return task(progress, token).then(() => { call.settled = true; });
      },
      showInformationMessage: (message: string, ...actions: string[]) => this.message("info", message, actions),
      showWarningMessage: (message: string, ...actions: string[]) => this.message("warning", message, actions),
      showErrorMessage: (message: string, ...actions: string[]) => this.message("error", message, actions),
    },
    commands: {
      registerCommand: (id: string, run: (...args: unknown[]) => unknown) => {
        this.commands.set(id, run);
        return { dispose: () => this.commands.delete(id) };
      },
      executeCommand: async (...args: unknown[]) => { this.executed.push(args); },
    },
  };

  constructor() {
    fake = this;
  }

  /** Install a stand-in Python extension whose selected interpreter is `interpreter`. */
  pythonExtension(interpreter: string): void {
    const environments = {
      getActiveEnvironmentPath: () => ({ id: interpreter, path: interpreter }),
      resolveEnvironment: async () => ({ executable: { uri: FakeUri.file(interpreter) } }),
      onDidChangeActiveEnvironmentPath: () => ({ dispose() {} }),
    };
    const extension = {
      id: "ms-python.python", isActive: true, activate: async () => {}, exports: { environments },
    };
    this.module.extensions.getExtension = ((id: string) =>
      id === "ms-python.python" ? extension : undefined) as () => undefined;
  }

  private message(severity: MessageCall["severity"], message: string, actions: string[]) {
    this.messages.push({ severity, message, actions });
    return Promise.resolve(this.choice);
  }

  /** Make `require("vscode")` return this fake (call before loading the module under test). */
  install(): void {
    // Plain objects (window, workspace, ...) absorb what they do not model, too.
    const fallback = (target: object): object => new Proxy(target, {
      get: (object, name) => {
        if (name in object) {
          const value = Reflect.get(object, name, object);
          const plain = value !== null && typeof value === "object" && !Array.isArray(value)
            && Object.getPrototypeOf(value) === Object.prototype;
          return plain ? fallback(value) : value;
        }
        return typeof name === "symbol" || name === "then" ? undefined : absorb();
      },
    });
    const stand = fallback(this.module);
    const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const load = loader._load;
    loader._load = function (request: string, ...rest: unknown[]) {
      return request === "vscode" ? stand : load.call(this, request, ...rest);
    };
  }
}
