// The interpreter the Python extension (ms-python.python) has selected, through its
// published API (@vscode/python-extension), as ruff-vscode and vscode-mypy ask for it.

import { PythonExtension } from "@vscode/python-extension";
import * as vscode from "vscode";

import { PythonChoice } from "./discovery";

export const PYTHON_EXTENSION_ID = "ms-python.python";

/** The selected interpreter for `resource`, or why there is none. */
export async function pythonChoice(resource: vscode.Uri | undefined): Promise<PythonChoice> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION_ID) === undefined) {
    return { missing: "the Python extension is not installed" };
  }
  try {
    const api = await PythonExtension.api();
    const active = api.environments.getActiveEnvironmentPath(resource);
    const resolved = await api.environments.resolveEnvironment(active);
    const executable = resolved?.executable.uri?.fsPath;
    return executable
      ? { interpreter: executable }
      : { missing: `the Python extension could not resolve ${active.path}` };
  } catch (error) {
    return { missing: `the Python extension did not answer: ${String(error)}` };
  }
}

/** Calls `listener` when the user selects another interpreter (nothing without the extension). */
export async function onInterpreterChange(listener: () => void): Promise<vscode.Disposable | undefined> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION_ID) === undefined) {
    return undefined;
  }
  try {
    const api = await PythonExtension.api();
    return api.environments.onDidChangeActiveEnvironmentPath(() => listener());
  } catch {
    return undefined;
  }
}
