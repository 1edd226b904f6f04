// How a fix run looks in VS Code: a progress notification with a Cancel button, a status
// item (idle / checking / fixing n of m), and the server's messages with a "Show log"
// button on the run's summary.
//
// vscode-languageclient shows a server's work-done progress as status-bar text only
// (ProgressLocation.Window, where a Cancel button cannot be shown). The middleware below
// takes the run's progress instead and shows it as a notification; its Cancel sends
// `window/workDoneProgress/cancel` with the run's token, which the server answers by
// cancelling that run (run_progress.py), exactly as any LSP client's cancel would.

import * as vscode from "vscode";
import {
  LanguageClient,
  MessageType as LspMessageType,
  Middleware,
  ProgressToken,
  ShowMessageNotification,
  ShowMessageParams,
  WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressEnd,
  WorkDoneProgressReport,
} from "vscode-languageclient/node";

import { RunStatus, messageActions } from "./runStatus";

/** A pull that takes longer than this shows "checking" (quicker ones would flicker). */
const CHECKING_DELAY_MS = 300;
const CANCEL_RUNS = "stomper.cancelRunsInProgress";

interface Notification {
  /** Unset until VS Code runs the withProgress task (it may do so after a report). */
  progress?: vscode.Progress<{ message?: string; increment?: number }>;
  message?: string;
  percentage: number;
  reported: number;
  finish: () => void;
}

export class RunView implements vscode.Disposable {
  private readonly status = new RunStatus();
  private readonly item: vscode.StatusBarItem;
  private readonly notifications = new Map<string, Notification>();
  private readonly disposables: vscode.Disposable[] = [];
  private client: LanguageClient | undefined;
  private checkingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly showLog: () => void) {
    this.item = vscode.window.createStatusBarItem("stomper.status", vscode.StatusBarAlignment.Left);
    this.item.name = "Stomper";
    this.disposables.push(
      this.item,
      vscode.commands.registerCommand(CANCEL_RUNS, () => this.cancelAll()),
    );
    this.render();
    this.item.show();
  }

  /** Restricted Mode: the status item says so (fix runs are off). */
  restricted(on: boolean): void {
    this.status.restricted = on;
    this.render();
  }

  /** The client whose runs are shown (undefined: stopped; every run is over). */
  attach(client: LanguageClient | undefined): void {
    this.client = client;
    if (client === undefined) {
      for (const notification of this.notifications.values()) {
        notification.finish();
      }
      this.notifications.clear();
      this.status.reset();
      this.render();
      return;
    }
    // Replaces vscode-languageclient's own window/showMessage handler (registered before
    // start, it is installed after the default one).
    client.onNotification(ShowMessageNotification.type, (params) => this.showMessage(params));
  }

  middleware(): Middleware {
    return {
      handleWorkDoneProgress: (token, params, next) => {
        this.progress(token, params);
        if (params.kind === "end") {
          next(token, params); // lets the client forget the token
        }
      },
      provideDiagnostics: async (document, previousResultId, token, next) => {
        this.checkStarted();
        try {
          return await next(document, previousResultId, token);
        } finally {
          this.checkFinished();
        }
      },
    };
  }

  dispose(): void {
    this.attach(undefined);
    clearTimeout(this.checkingTimer);
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  private progress(
    token: ProgressToken,
    params: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd,
  ): void {
    const key = String(token);
    this.status.progress(key, params);
    if (params.kind === "begin") {
      this.notify(token, params);
    } else if (params.kind === "report") {
      const notification = this.notifications.get(key);
      if (notification !== undefined) {
        notification.message = params.message ?? notification.message;
        notification.percentage = Math.max(
          notification.percentage, Math.min(params.percentage ?? 0, 100),
        );
        this.flush(notification);
      }
    } else {
      this.notifications.get(key)?.finish();
      this.notifications.delete(key);
    }
    this.render();
  }

  private notify(token: ProgressToken, begin: WorkDoneProgressBegin): void {
    let finish = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const notification: Notification = {
      message: begin.message,
      percentage: Math.max(0, Math.min(begin.percentage ?? 0, 100)),
      reported: 0,
      finish,
    };
    this.notifications.set(String(token), notification);
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: begin.title,
        cancellable: begin.cancellable ?? false,
      },
      (progress, cancel) => {
        notification.progress = progress;
        this.flush(notification);
        cancel.onCancellationRequested(() => this.cancel(token));
        return finished;
      },
    );
  }

  private flush(notification: Notification): void {
    if (notification.progress === undefined) {
      return;
    }
    notification.progress.report({
      message: notification.message,
      increment: notification.percentage - notification.reported,
    });
    notification.reported = notification.percentage;
  }

  private cancel(token: ProgressToken): void {
    void this.client?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
  }

  private cancelAll(): void {
    for (const token of this.status.activeRuns()) {
      this.cancel(token);
    }
  }

  private checkStarted(): void {
    this.status.checkStarted();
    if (this.checkingTimer === undefined) {
      this.checkingTimer = setTimeout(() => {
        this.checkingTimer = undefined;
        this.render();
      }, CHECKING_DELAY_MS);
    }
  }

  private checkFinished(): void {
    this.status.checkFinished();
    if (this.status.view().state !== "checking") {
      clearTimeout(this.checkingTimer);
      this.checkingTimer = undefined;
      this.render();
    }
  }

  private render(): void {
    const view = this.status.view();
    if (view.state === "checking" && this.checkingTimer !== undefined) {
      return; // not yet: most pulls end within the delay
    }
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.click === "cancel"
      ? { title: "Cancel fix run", command: CANCEL_RUNS }
      : { title: "Show server log", command: "stomper.showLog" };
  }

  private async showMessage(params: ShowMessageParams): Promise<void> {
    const show = params.type === LspMessageType.Error
      ? vscode.window.showErrorMessage
      : params.type === LspMessageType.Warning
        ? vscode.window.showWarningMessage
        : vscode.window.showInformationMessage;
    const actions = messageActions(params.type, this.status.isSummary(params.message));
    const choice = await show(params.message, ...actions);
    if (choice === "Show log") {
      this.showLog();
    }
  }
}
