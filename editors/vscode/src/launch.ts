// The probes server discovery (discovery.ts) uses: PATH lookup and "is Stomper installed
// in this interpreter". No vscode import (unit-tested under node).

import { execFile } from "child_process";
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

/**
 * Whether `interpreter` can import `module`, without importing it (find_spec). Runs in
 * `cwd` (never a workspace folder: Python puts the current directory on sys.path).
 */
export function hasModule(
  interpreter: string,
  module: string,
  cwd: string,
  timeoutMs = 15000,
): Promise<boolean> {
  const code = `import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(${JSON.stringify(module)}) else 3)`;
  return new Promise((resolve) => {
    execFile(interpreter, ["-c", code], { cwd, timeout: timeoutMs }, (error) => resolve(error === null));
  });
}
