// A stand-in for the `vscode` module, enough for RunView and for loading
// vscode-languageclient under plain node: it records what the extension asks VS Code to
// show. Anything not modelled here is a no-op function (the client only touches it later).

import Module = require("node:module");

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

export class FakeVscode {
  readonly progress: ProgressCall[] = [];
  readonly messages: MessageCall[] = [];
  readonly commands = new Map<string, (...args: unknown[]) => unknown>();
  readonly executed: unknown[][] = [];
  readonly item = { text: "", tooltip: "", name: "", command: undefined as unknown, show() {}, dispose() {} };
  /** What the user clicks on the next message. */
  choice: string | undefined;

  readonly module = {
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    window: {
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

  private message(severity: MessageCall["severity"], message: string, actions: string[]) {
    this.messages.push({ severity, message, actions });
    return Promise.resolve(this.choice);
  }

  /** Make `require("vscode")` return this fake (call before loading the module under test). */
  install(): void {
    const fake = this.module as Record<string, unknown>;
    const stand = new Proxy(fake, {
      get: (target, name: string) => (name in target ? target[name] : function noop() {}),
    });
    const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const load = loader._load;
    loader._load = function (request: string, ...rest: unknown[]) {
      return request === "vscode" ? stand : load.call(this, request, ...rest);
    };
  }
}
