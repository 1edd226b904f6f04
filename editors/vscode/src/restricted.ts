// Restricted Mode (an untrusted workspace): what Stomper still does and what it does not.
// The server runs nothing from the workspace when `trustWorkspace` is false (no .venv
// tools, no test command, no mypy plugins: stomper_lsp/server/settings.py), so its
// diagnostics and quick fixes stay on; fix runs (agents working on the folder's files)
// are refused here. No vscode import (unit-tested under node).

/** Commands that start a fix run. */
export const RUN_COMMANDS: ReadonlySet<string> = new Set([
  "stomper.fixAll",
  "stomper.fixFile",
  "stomper.resume",
]);

export const MANAGE_TRUST = "Manage Workspace Trust";
export const MANAGE_TRUST_COMMAND = "workbench.trust.manage";

export const RESTRICTED_NOTICE =
  "Stomper is in Restricted Mode (this folder is not trusted): ruff and mypy diagnostics " +
  "and quick fixes work, with programs from your user settings only. Off until you trust " +
  "the folder: fix runs, the folder's own .venv tools and interpreter, its test command " +
  "and mypy plugins (stomper.trustWorkspace is treated as false).";

export const RUN_REFUSED =
  "Stomper: fix runs are off in Restricted Mode (this folder is not trusted). Trust the " +
  "folder to run them.";

/** Whether `command` must be refused in a workspace that is (not) trusted. */
export function refusedInRestrictedMode(command: string, trusted: boolean): boolean {
  return !trusted && RUN_COMMANDS.has(command);
}

/** The settings sent to the server: never trustWorkspace=true in an untrusted window. */
export function restrictSettings(
  settings: Record<string, unknown>,
  trusted: boolean,
): Record<string, unknown> {
  return trusted ? settings : { ...settings, trustWorkspace: false };
}
