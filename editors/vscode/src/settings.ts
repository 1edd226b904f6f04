// Which `stomper.*` settings go to the server, and from which scope: no vscode import,
// so the rules are unit-tested under plain node (src/test/settings.test.ts).

export const SECTION = "stomper";

/** Settings of the extension itself (how to start the server): never sent to it. */
export const LAUNCH_KEYS: ReadonlySet<string> = new Set(["path", "interpreter", "logFile", "trace.server"]);

export interface SettingSpec {
  key: string;
  /** Machine-scoped keys name programs: only the user's own settings may set them. */
  userOnly: boolean;
}

/** The values VS Code's `WorkspaceConfiguration.inspect` reports for one key. */
export interface Inspected {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** The server settings declared in package.json's `contributes.configuration`. */
export function settingSpecs(properties: Record<string, { scope?: string }>): SettingSpec[] {
  return Object.entries(properties)
    .map(([name, spec]) => ({
      key: name.slice(SECTION.length + 1),
      userOnly: spec.scope === "machine",
    }))
    .filter((spec) => !LAUNCH_KEYS.has(spec.key));
}

/**
 * The settings the user actually set, in the server's camelCase keys.
 *
 * Defaults are left out on purpose: the server layers editor settings over the user's
 * ~/.config/stomper/config.toml, and a default sent from here would silently override
 * that file. Keys that name a program come from the user settings only, never from a
 * workspace's .vscode/settings.json (a repository must not choose what Stomper runs).
 */
export function explicitSettings(
  specs: readonly SettingSpec[],
  inspect: (key: string) => Inspected | undefined,
): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const spec of specs) {
    const info = inspect(spec.key);
    if (info === undefined) {
      continue;
    }
    const value = spec.userOnly
      ? info.globalValue
      : info.workspaceFolderValue ?? info.workspaceValue ?? info.globalValue;
    if (value !== undefined && value !== null) {
      settings[spec.key] = value;
    }
  }
  return settings;
}

/**
 * The command (and its argument) that opens the Settings editor on Stomper's settings in
 * the tab where they take effect: machine-scoped settings (stomper.path and the other
 * program-naming ones) are read from the remote's settings in a remote window, so the
 * local User tab would show settings that do nothing there.
 */
export function openSettingsCommand(
  remoteName: string | undefined,
  extensionId: string,
): [string, { query: string }] {
  const query = { query: `@ext:${extensionId}` };
  return remoteName
    ? ["workbench.action.openRemoteSettings", query]
    : ["workbench.action.openSettings", query];
}
