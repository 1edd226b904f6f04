// Arguments of stomper.fixFile / stomper.fixAll / stomper.cancel as the server expects
// them (URI strings, at most one), whoever invoked the command: the palette (no
// arguments), an explorer menu (a Uri and the selection), or a server code action.
// No vscode import (unit-tested under node).

export interface Focus {
  /** URI of the active editor's document, if it is a file. */
  file?: string;
  /** URI of the workspace folder of the active editor. */
  folder?: string;
}

/** undefined: the command cannot run (fixFile with no file): tell the user. */
export function commandArguments(
  command: string,
  args: readonly unknown[],
  focus: Focus,
  uriString: (value: unknown) => string | undefined,
): unknown[] | undefined {
  const given = args
    .filter((arg) => arg !== undefined && arg !== null)
    .map((arg) => uriString(arg) ?? arg)
    .slice(0, 1); // explorer menus also pass the list of selected files
  if (given.length > 0) {
    return given;
  }
  switch (command) {
    case "stomper.fixFile":
      return focus.file === undefined ? undefined : [focus.file];
    case "stomper.fixAll":
    case "stomper.cancel":
      // The active editor's folder; none: every folder.
      return focus.folder === undefined ? [] : [focus.folder];
    default:
      return [];
  }
}
