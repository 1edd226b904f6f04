// Stomper for VS Code: finds and starts the language server (discovery.ts) and hands it
// the `stomper.*` settings.
//
// The fix commands (stomper.fixAll, stomper.fixFile, stomper.cancel) are the server's own
// `workspace/executeCommand` ids: vscode-languageclient registers them when the server
// advertises them, and the middleware below fills in the file or folder the user meant
// (and refuses fix runs in Restricted Mode). Only restart and showLog are handled here;
// runView.ts shows the runs.

import * as os from "os";
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
import { MODULE, discoverServer, notFoundMessage } from "./discovery";
import { hasModule, onPath } from "./launch";
import { onInterpreterChange, pythonChoice } from "./pythonExtension";
import {
  MANAGE_TRUST,
  MANAGE_TRUST_COMMAND,
  RESTRICTED_NOTICE,
  RUN_REFUSED,
  refusedInRestrictedMode,
  restrictSettings,
} from "./restricted";
import { RunView } from "./runView";
import {
  SECTION,
  SettingSpec,
  explicitSettings,
  openSettingsCommand,
  settingSpecs,
} from "./settings";

const RESTRICTED_NOTICE_SHOWN = "stomper.restrictedNoticeShown";

/** A change to one of these needs a new server process. */
const RELAUNCH_KEYS = ["path", "interpreter", "logFile", "trustWorkspace"];

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;
let view: RunView | undefined;
/** Where the running server came from ("the Python extension's interpreter", "PATH"...). */
let serverSource: string | undefined;

function settingsFor(specs: readonly SettingSpec[], scope: vscode.Uri | undefined) {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return restrictSettings(
    explicitSettings(specs, (key) => config.inspect(key)),
    vscode.workspace.isTrusted,
  );
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
      if (refusedInRestrictedMode(command, vscode.workspace.isTrusted)) {
        void offerTrust(RUN_REFUSED);
        return undefined;
      }
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

function openSettings(context: vscode.ExtensionContext): void {
  const [command, argument] = openSettingsCommand(vscode.env.remoteName, context.extension.id);
  void vscode.commands.executeCommand(command, argument);
}

async function offerTrust(message: string): Promise<void> {
  const choice = await vscode.window.showWarningMessage(message, MANAGE_TRUST);
  if (choice === MANAGE_TRUST) {
    void vscode.commands.executeCommand(MANAGE_TRUST_COMMAND);
  }
}

let watchingInterpreter = false;

/** A new interpreter selected in the Python extension restarts a server it chose. */
function watchInterpreter(context: vscode.ExtensionContext): void {
  if (watchingInterpreter) {
    return;
  }
  watchingInterpreter = true;
  void onInterpreterChange(() => {
    if (serverSource === undefined || serverSource.startsWith("the Python extension")) {
      void restart(context);
    }
  }).then((disposable) => disposable && context.subscriptions.push(disposable));
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const trusted = vscode.workspace.isTrusted;
  const folders = vscode.workspace.workspaceFolders ?? [];
  const found = await discoverServer(
    {
      home: os.homedir(),
      path: userSetting<string[]>("path"),
      interpreter: userSetting<string[]>("interpreter"),
      // The Python extension's interpreter is not even asked for in Restricted Mode.
      python: trusted ? await pythonChoice(folders[0]?.uri) : { missing: "not used in Restricted Mode" },
      trusted,
      trustWorkspace: userSetting<boolean>("trustWorkspace") === true,
      folders: folders.map((folder) => folder.uri.fsPath),
    },
    {
      // Probed from the extension's own folder: Python puts the current directory on
      // sys.path, and a workspace folder's `stomper_lsp` must never be the one that runs.
      hasModule: (python) => hasModule(python, MODULE, context.extensionPath),
      onPath: (name) => onPath(name),
    },
  );
  serverSource = found.source;
  if (trusted) {
    watchInterpreter(context);
  }
  const argv = found.argv;
  output ??= vscode.window.createOutputChannel("Stomper");
  runView().restricted(!trusted);
  if (argv === undefined) {
    output.appendLine(notFoundMessage(found.tried));
    const choice = await vscode.window.showErrorMessage(notFoundMessage(found.tried), "Open Settings");
    if (choice === "Open Settings") {
      openSettings(context);
    }
    return;
  }
  const args = argv.slice(1);
  const logFile = userSetting<string>("logFile");
  if (logFile) {
    args.push("--log-file", logFile);
  }
  const specs = settingSpecs(context.extension.packageJSON.contributes.configuration.properties);
  const serverOptions: ServerOptions = {
    command: argv[0],
    args,
    transport: TransportKind.stdio,
    // Not a workspace folder (vscode-languageclient's default): `python -m` would import
    // a `stomper_lsp` package found there.
    options: { cwd: context.extensionPath },
  };
  output.appendLine(`Starting the server (from ${found.source}): ${[argv[0], ...args].join(" ")}`);
  if (!trusted) {
    output.appendLine(RESTRICTED_NOTICE);
  }
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
  output ??= vscode.window.createOutputChannel("Stomper");
  if (!vscode.workspace.isTrusted && !context.workspaceState.get<boolean>(RESTRICTED_NOTICE_SHOWN)) {
    // Once per workspace: the log, the status item and any refused fix run repeat it.
    void context.workspaceState.update(RESTRICTED_NOTICE_SHOWN, true);
    void offerTrust(RESTRICTED_NOTICE);
  }
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => void restart(context)),
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
