// Stomper for VS Code: starts `stomper-lsp` and hands it the `stomper.*` settings.
//
// The fix commands (stomper.fixAll, stomper.fixFile, stomper.cancel) are the server's own
// `workspace/executeCommand` ids: vscode-languageclient registers them when the server
// advertises them, and the middleware below fills in the file or folder the user meant.
// Only restart and showLog are handled here.

import * as vscode from "vscode";
import {
  ConfigurationParams,
  LanguageClient,
  LanguageClientOptions,
  Middleware,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

import { commandArguments } from "./commandArguments";
import { RunView } from "./runView";
import { serverCommand } from "./launch";
import { SECTION, SettingSpec, explicitSettings, settingSpecs } from "./settings";

/** A change to one of these needs a new server process. */
const RELAUNCH_KEYS = ["path", "interpreter", "logFile"];

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;
let view: RunView | undefined;

function settingsFor(specs: readonly SettingSpec[], scope: vscode.Uri | undefined) {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return explicitSettings(specs, (key) => config.inspect(key));
}

function userSetting<T>(key: string): T | undefined {
  return vscode.workspace.getConfiguration(SECTION).inspect<T>(key)?.globalValue;
}

function focus(): { file?: string; folder?: string } {
  const document = vscode.window.activeTextEditor?.document;
  if (document === undefined) {
    return {};
  }
  const folder = vscode.workspace.getWorkspaceFolder(document.uri);
  return {
    file: document.uri.scheme === "file" ? document.uri.toString() : undefined,
    folder: folder?.uri.toString(),
  };
}

function uriString(value: unknown): string | undefined {
  return value instanceof vscode.Uri ? value.toString() : undefined;
}

function middleware(specs: readonly SettingSpec[], runs: RunView): Middleware {
  return {
    ...runs.middleware(),
    executeCommand: async (command, args, next) => {
      const actual = commandArguments(command, args, focus(), uriString);
      if (actual === undefined) {
        void vscode.window.showWarningMessage("Stomper: open a Python file to fix it.");
        return undefined;
      }
      return next(command, actual);
    },
    workspace: {
      configuration: async (params: ConfigurationParams, token, next) => {
        const ours = params.items.map((item) =>
          item.section === SECTION
            ? settingsFor(specs, item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
            : undefined,
        );
        if (params.items.every((item) => item.section === SECTION)) {
          return ours;
        }
        // Other sections (nobody asks today): VS Code's own answer.
        const theirs = await next(params, token);
        return Array.isArray(theirs)
          ? theirs.map((value, i) => (params.items[i].section === SECTION ? ours[i] : value))
          : theirs;
      },
    },
  };
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const argv = serverCommand(userSetting<string[]>("path"), userSetting<string[]>("interpreter"));
  if (argv === undefined) {
    const choice = await vscode.window.showErrorMessage(
      "Stomper: `stomper-lsp` is not on PATH. Install Stomper (pipx install <your Stomper clone>; see docs/install.md) or set " +
        "stomper.path or stomper.interpreter in your user settings.",
      "Open Settings",
    );
    if (choice === "Open Settings") {
      void vscode.commands.executeCommand("workbench.action.openSettings", "stomper.path");
    }
    return;
  }
  const args = argv.slice(1);
  const logFile = userSetting<string>("logFile");
  if (logFile) {
    args.push("--log-file", logFile);
  }
  const specs = settingSpecs(context.extension.packageJSON.contributes.configuration.properties);
  const serverOptions: ServerOptions = { command: argv[0], args, transport: TransportKind.stdio };
  output ??= vscode.window.createOutputChannel("Stomper");
  output.appendLine(`Starting the server: ${[argv[0], ...args].join(" ")}`);
  const clientOptions: LanguageClientOptions = {
    // Files on disk only: the checkers and the fix engine work on the project's tree.
    documentSelector: [{ scheme: "file", language: "python" }],
    initializationOptions: settingsFor(specs, undefined),
    outputChannel: output,
    middleware: middleware(specs, runView()),
  };
  client = new LanguageClient(SECTION, "Stomper", serverOptions, clientOptions);
  runView().attach(client);
  await client.start();
}

function runView(): RunView {
  view ??= new RunView(() => output?.show(true));
  return view;
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  view?.attach(undefined);
  if (running !== undefined) {
    await running.stop();
  }
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  await stop();
  try {
    await start(context);
  } catch (error) {
    void vscode.window.showErrorMessage(`Stomper: the server did not start: ${String(error)}`);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("stomper.restart", () => restart(context)),
    vscode.commands.registerCommand("stomper.showLog", () => output?.show(true)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      // The server re-reads its settings itself (it registers for the change); only a
      // different way of starting it needs a new process.
      if (RELAUNCH_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
        void restart(context);
      }
    }),
    { dispose: () => void stop() },
    { dispose: () => view?.dispose() },
  );
  await restart(context);
}

export function deactivate(): Thenable<void> | undefined {
  return stop();
}
