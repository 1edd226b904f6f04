// What the status item says, from the server's work-done progress (one token per fix run,
// see stomper_lsp/server/run_progress.py) and the diagnostics pulls in flight. No vscode
// import (unit-tested under node: src/test/runStatus.test.ts).

/** The LSP work-done progress values, as far as the status item reads them. */
export type ProgressValue =
  | { kind: "begin"; title: string; message?: string; percentage?: number; cancellable?: boolean }
  | { kind: "report"; message?: string; percentage?: number }
  | { kind: "end"; message?: string };

export type StatusState = "idle" | "checking" | "fixing";

export interface StatusView {
  state: StatusState;
  /** Status bar text (codicons allowed). */
  text: string;
  tooltip: string;
  /** What a click does: show the log, or cancel the runs in progress. */
  click: "showLog" | "cancel";
}

interface Run {
  title: string;
  message?: string;
  done?: number;
  total?: number;
}

/** "3/10 files · 2 running · …" (progress_message in run_progress.py) -> 3 of 10. */
export function filesDone(message: string | undefined): { done: number; total: number } | undefined {
  const match = /^(\d+)\/(\d+) files\b/.exec(message ?? "");
  return match ? { done: Number(match[1]), total: Number(match[2]) } : undefined;
}

export class RunStatus {
  /** Restricted Mode (an untrusted workspace): fix runs are off. */
  restricted = false;
  private readonly runs = new Map<string, Run>();
  private checks = 0;
  private lastSummary: string | undefined;
  /** End messages of runs whose summary message has not arrived yet. */
  private ended: string[] = [];

  /** Feed one `$/progress` value; returns false for a token this model never saw begin. */
  progress(token: string | number, value: ProgressValue): boolean {
    const key = String(token);
    if (value.kind === "begin") {
      this.runs.set(key, { title: value.title });
      this.update(key, value.message);
      return true;
    }
    if (!this.runs.has(key)) {
      return false;
    }
    if (value.kind === "report") {
      this.update(key, value.message);
    } else {
      this.runs.delete(key);
      if (value.message) {
        this.lastSummary = value.message;
        this.ended = [...this.ended.slice(-4), value.message];
      }
    }
    return true;
  }

  /**
   * Whether a server message is a fix run's summary: the server ends the run's progress
   * with the summary's text, then shows the summary itself. Each end matches once.
   */
  isSummary(message: string): boolean {
    const index = this.ended.findIndex((end) => message.endsWith(end));
    if (index < 0) {
      return false;
    }
    this.ended.splice(index, 1);
    return true;
  }

  checkStarted(): void {
    this.checks += 1;
  }

  checkFinished(): void {
    this.checks = Math.max(0, this.checks - 1);
  }

  /** Tokens of the runs still going (a click on the status item cancels them). */
  activeRuns(): string[] {
    return [...this.runs.keys()];
  }

  /** Every run ended (the client stopped): nothing is fixing any more. */
  reset(): void {
    this.runs.clear();
    this.checks = 0;
  }

  view(): StatusView {
    const runs = [...this.runs.values()];
    if (runs.length > 0) {
      const counted = runs.filter((run) => run.total !== undefined);
      const done = counted.reduce((sum, run) => sum + (run.done ?? 0), 0);
      const total = counted.reduce((sum, run) => sum + (run.total ?? 0), 0);
      const text = counted.length > 0
        ? `$(sync~spin) Stomper: fixing ${done} of ${total}`
        : "$(sync~spin) Stomper: preparing";
      const lines = runs.map((run) => (run.message ? `${run.title}: ${run.message}` : run.title));
      return {
        state: "fixing",
        text,
        tooltip: `${lines.join("\n")}\nClick to cancel (nothing is changed).`,
        click: "cancel",
      };
    }
    const last = this.lastSummary ? `\nLast run: ${this.lastSummary}` : "";
    if (this.checks > 0) {
      return {
        state: "checking",
        text: "$(sync~spin) Stomper: checking",
        tooltip: `Stomper is running ruff and mypy.${last}\nClick to show the log.`,
        click: "showLog",
      };
    }
    if (this.restricted) {
      return {
        state: "idle",
        text: "$(shield) Stomper",
        tooltip: "Stomper in Restricted Mode: diagnostics and quick fixes only; fix runs are " +
          "off until you trust this folder.\nClick to show the log.",
        click: "showLog",
      };
    }
    return {
      state: "idle",
      text: "$(check) Stomper",
      tooltip: `Stomper: idle.${last}\nClick to show the log.`,
      click: "showLog",
    };
  }

  private update(key: string, message: string | undefined): void {
    const run = this.runs.get(key);
    if (run === undefined || message === undefined) {
      return;
    }
    run.message = message;
    const counts = filesDone(message);
    if (counts !== undefined) {
      run.done = counts.done;
      run.total = counts.total;
    }
  }
}

/** The LSP MessageType values (window/showMessage). */
export const MessageType = { Error: 1, Warning: 2, Info: 3, Log: 4 } as const;

/** Buttons for a server message: "Show log" on warnings, errors and a run's summary. */
export function messageActions(type: number, summary: boolean): string[] {
  return summary || type === MessageType.Error || type === MessageType.Warning
    ? ["Show log"]
    : [];
}
