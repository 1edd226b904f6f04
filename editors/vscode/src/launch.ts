// How the extension finds the server: stomper.path, else `<stomper.interpreter> -m
// stomper_lsp`, else `stomper-lsp` on PATH. No vscode import (unit-tested under node).

import * as fs from "fs";
import * as path from "path";

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `name` resolved on `searchPath` (with PATHEXT on Windows), or undefined. */
export function onPath(
  name: string,
  searchPath: string = process.env.PATH ?? "",
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const extensions = platform === "win32"
    ? (process.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";")
    : [""];
  for (const dir of searchPath.split(path.delimiter)) {
    for (const ext of extensions) {
      const candidate = path.join(dir, name + ext);
      if (dir && isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** The server's argv (without --log-file), or undefined when nothing is found. */
export function serverCommand(
  explicit: readonly string[] | undefined,
  interpreter: readonly string[] | undefined,
  find: (name: string) => string | undefined = (name) => onPath(name),
): string[] | undefined {
  if (explicit && explicit.length > 0) {
    return [...explicit];
  }
  if (interpreter && interpreter.length > 0) {
    return [...interpreter, "-m", "stomper_lsp"];
  }
  const found = find("stomper-lsp");
  return found ? [found] : undefined;
}
