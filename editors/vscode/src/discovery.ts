// Which command starts the server, in ruff-vscode's order: `stomper.path`, else
// `<stomper.interpreter> -m stomper_lsp`, else the Python extension's interpreter when
// Stomper is installed there, else `stomper-lsp` on PATH. When nothing is found, the
// message names every place tried and why each was passed over. No vscode import
// (unit-tested under node: src/test/discovery.test.ts).

import * as path from "path";

export const MODULE = "stomper_lsp";
export const EXECUTABLE = "stomper-lsp";

/** What the Python extension reported for the workspace. */
export type PythonChoice =
  | { interpreter: string }
  | { missing: string }; // why there is none, e.g. "the Python extension is not installed"

export interface DiscoveryInputs {
  /** The user's home folder: `~` and `${userHome}` in the settings stand for it. */
  home?: string;
  /** `stomper.path` from the user settings. */
  path?: readonly string[];
  /** `stomper.interpreter` from the user settings. */
  interpreter?: readonly string[];
  python: PythonChoice;
  /** VS Code's workspace trust: false in Restricted Mode. */
  trusted: boolean;
  /** `stomper.trustWorkspace` from the user settings: the workspace's own code may run. */
  trustWorkspace: boolean;
  /** File system paths of the workspace folders. */
  folders: readonly string[];
}

export interface DiscoveryProbes {
  /** Whether `stomper_lsp` is importable by this interpreter (runs it). */
  hasModule: (interpreter: string) => Promise<boolean>;
  /** The executable `name` on PATH, or undefined. */
  onPath: (name: string) => string | undefined;
}

export interface Discovery {
  /** The server's argv (without --log-file); undefined: nothing found. */
  argv?: string[];
  /** Where argv came from, for the log. */
  source?: string;
  /** Every place looked at, with why it was passed over. */
  tried: string[];
}

/** Whether `file` lies inside one of `folders` (then it is the workspace's own code). */
export function insideAny(file: string, folders: readonly string[]): boolean {
  return folders.some((folder) => {
    const rel = path.relative(folder, file);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  });
}

/** `~/x` and `${userHome}/x` in a program path, as users write them in settings. */
export function expandHome(program: string, home: string | undefined): string {
  if (home === undefined) {
    return program;
  }
  if (program === "~" || program.startsWith("~/") || program.startsWith("~\\")) {
    return home + program.slice(1);
  }
  return program.replace(/^\$\{userHome\}/, home);
}

export async function discoverServer(
  inputs: DiscoveryInputs,
  probes: DiscoveryProbes,
): Promise<Discovery> {
  const tried: string[] = [];
  if (inputs.path && inputs.path.length > 0) {
    const [program, ...rest] = inputs.path;
    return { argv: [expandHome(program, inputs.home), ...rest], source: "stomper.path", tried };
  }
  tried.push("stomper.path (not set)");
  if (inputs.interpreter && inputs.interpreter.length > 0) {
    const [program, ...rest] = inputs.interpreter;
    return {
      argv: [expandHome(program, inputs.home), ...rest, "-m", MODULE],
      source: "stomper.interpreter",
      tried,
    };
  }
  tried.push("stomper.interpreter (not set)");
  const python = inputs.python;
  if ("missing" in python) {
    tried.push(`the Python extension's interpreter (${python.missing})`);
  } else if (!inputs.trusted) {
    tried.push(
      `the Python extension's interpreter ${python.interpreter} (not run in Restricted Mode)`,
    );
  } else if (insideAny(python.interpreter, inputs.folders) && !inputs.trustWorkspace) {
    tried.push(
      `the Python extension's interpreter ${python.interpreter} (it is inside the ` +
        "workspace, so it is the workspace's own code: set stomper.trustWorkspace to run it)",
    );
  } else if (await probeModule(probes, python.interpreter)) {
    return {
      argv: [python.interpreter, "-m", MODULE],
      source: `the Python extension's interpreter`,
      tried,
    };
  } else {
    tried.push(`the Python extension's interpreter ${python.interpreter} (no ${MODULE} module there)`);
  }
  const found = probes.onPath(EXECUTABLE);
  if (found !== undefined) {
    return { argv: [found], source: "PATH", tried };
  }
  tried.push(`\`${EXECUTABLE}\` on PATH (not found)`);
  return { tried };
}

async function probeModule(probes: DiscoveryProbes, interpreter: string): Promise<boolean> {
  try {
    return await probes.hasModule(interpreter);
  } catch {
    return false;
  }
}

/** The error shown when nothing was found: what was tried, and what to do. */
export function notFoundMessage(tried: readonly string[]): string {
  return (
    "Stomper: its language server was not found. Tried: " +
    tried.join("; ") +
    ". Install Stomper (from a clone or a built wheel: pipx install <clone or wheel>; " +
    "see docs/install.md) into one of these, or set stomper.path or stomper.interpreter " +
    "in your user settings."
  );
}
