;;; stomper.el --- Stomper language server for Eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: languages, tools, python
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Stomper's language server (`stomper-lsp') for Python buffers through Eglot: ruff and
;; mypy diagnostics in Flymake, quick fixes as code actions, and the commands
;; `stomper-fix-file', `stomper-fix-all' and `stomper-cancel', which run Stomper's fix
;; engine in the background and deliver the fixes as one edit; `stomper-undo' takes
;; that edit back in every buffer.  A run's progress shows in the echo area, also
;; with Eglot 1.9, which has no work-done progress of its own.
;;
;;   (require 'stomper)
;;   (setq stomper-settings '(:agent "ruff" :maxParallelFiles 4 :tools ["ruff" "mypy"]))
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; Works with the Eglot of Emacs 29+ and with Eglot 1.9 from ELPA on Emacs 28
;; (Debian: apt-get install elpa-eglot).  Eglot runs one server per buffer: Stomper
;; replaces pylsp/pyright for Python buffers once this file is loaded.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'eglot)
(require 'jsonrpc)

(defgroup stomper nil
  "Stomper: make ruff and mypy errors disappear."
  :group 'tools
  :prefix "stomper-")

(defcustom stomper-server-command '("stomper-lsp")
  "Command line that starts Stomper's language server.
For a particular interpreter: (\"/path/to/python\" \"-m\" \"stomper_lsp\")."
  :type '(repeat string))

(defcustom stomper-log-file nil
  "If non-nil, the server also writes its log to this file (--log-file)."
  :type '(choice (const :tag "Off" nil) file))

(defcustom stomper-settings nil
  "Stomper settings: a plist with the server's camelCase keys.
For example (:agent \"ruff\" :maxParallelFiles 4 :tools [\"ruff\" \"mypy\"]).
JSON arrays are vectors.  Sent as initializationOptions and as the answer to
workspace/configuration.  See docs/editors.md for the keys."
  :type 'plist)

(defconst stomper--user-only-keys
  '(:agentCommand :testCommand :python :ruffPath :mypyPath :trustWorkspace
    :agent_command :test_command :ruff_path :mypy_path :trust_workspace
    :allowUnconfined :agentWritableDirs :allow_unconfined :agent_writable_dirs
    :executor :rayAddress :ray_address)
  "Settings that make Stomper run a program (or let the workspace's code run),
loosen the agents' confinement, or send the code to other machines.
`eglot-workspace-configuration' is a safe directory-local variable, so a
repository's .dir-locals.el can set it without asking: these keys are only
taken from `stomper-settings', which is the user's own.")

(defcustom stomper-confirm-edits nil
  "If non-nil, ask before a fix run's edit is applied.
A run is something you started, so by default its result is applied at once,
also to files no buffer visits yet (Eglot would ask \"Proceed?\" for those).
`stomper-undo' takes the whole edit back."
  :type 'boolean)

(defclass stomper-eglot-server (eglot-lsp-server)
  ((own-progress
    :initform nil
    :documentation "Non-nil when stomper.el shows work-done progress itself: the
Eglot in use does not (Eglot 1.9, Emacs 28)."))
  :documentation "Eglot's connection to Stomper's language server.")

(defun stomper--contact (&optional _interactive)
  "The `eglot-server-programs' contact, read when a server starts."
  (cons 'stomper-eglot-server
        (append stomper-server-command
                (and stomper-log-file
                     (list "--log-file" (expand-file-name stomper-log-file))))))

(defun stomper--without-user-only-keys (plist)
  "PLIST without the keys of `stomper--user-only-keys'."
  (cl-loop for (key value) on plist by #'cddr
           unless (memq key stomper--user-only-keys)
           append (list key value)))

(defun stomper--merge (base overrides)
  "The plist BASE with every key of OVERRIDES set to its value there."
  (let ((result (copy-sequence base)))
    (cl-loop for (key value) on overrides by #'cddr
             do (setq result (plist-put result key value)))
    result))

(cl-defmethod eglot-initialization-options ((_server stomper-eglot-server))
  "`stomper-settings', or an empty JSON object."
  (or stomper-settings (make-hash-table :size 1)))

(cl-defmethod eglot-handle-request
  ((_server stomper-eglot-server) (_method (eql workspace/configuration)) &key items)
  "Answer the `stomper' section: `stomper-settings' under the project's own
`eglot-workspace-configuration' (from .dir-locals.el), minus the keys that name
a program."
  (let ((eglots-answer (cl-call-next-method)))
    (cl-loop for item across items
             for answer across eglots-answer
             collect (if (equal (plist-get item :section) "stomper")
                         (let ((merged (stomper--merge
                                        stomper-settings
                                        (and (listp answer)
                                             (stomper--without-user-only-keys answer)))))
                           (or merged (make-hash-table :size 1)))
                       answer)
             into answers
             finally return (apply #'vector answers))))

(cl-defmethod eglot-client-capabilities ((server stomper-eglot-server))
  "Eglot's capabilities, plus work-done progress where this Eglot lacks it.
Without it the server sends no progress: a fix run was seconds of silence."
  (let* ((capabilities (copy-sequence (cl-call-next-method)))
         (window (plist-get capabilities :window)))
    (if (plist-get window :workDoneProgress)
        capabilities
      (oset server own-progress t)
      (plist-put capabilities :window
                 (plist-put (copy-sequence window) :workDoneProgress t)))))

(cl-defmethod eglot-handle-request
  ((server stomper-eglot-server) (_method (eql window/workDoneProgress/create))
   &rest args)
  "Accept the server's progress token (when stomper.el shows progress itself)."
  (if (oref server own-progress)
      nil
    (apply #'cl-call-next-method server 'window/workDoneProgress/create args)))

(defun stomper--progress-text (value)
  "The echo-area line for the `$/progress' VALUE, or nil to show nothing."
  (let ((kind (plist-get value :kind))
        (title (plist-get value :title))
        (text (plist-get value :message))
        (percentage (plist-get value :percentage)))
    ;; The end's message is the run's summary, which window/showMessage brings too.
    (unless (equal kind "end")
      (let ((line (string-join (delq nil (list (and (equal kind "begin") title) text))
                               " · ")))
        (unless (string-empty-p line)
          (concat (if (string-prefix-p "Stomper" line) "" "Stomper: ")
                  line
                  (if (numberp percentage) (format " (%d%%)" percentage) "")))))))

(cl-defmethod eglot-handle-notification
  ((server stomper-eglot-server) (_method (eql $/progress)) &rest args &key value
   &allow-other-keys)
  "Show a fix run's progress in the echo area where Eglot does not."
  (if (not (oref server own-progress))
      (apply #'cl-call-next-method server '$/progress args)
    (let ((text (stomper--progress-text value)))
      (when text
        (let ((message-log-max nil)) ; progress is not worth keeping in *Messages*
          (message "%s" text))))))

(cl-defmethod eglot-handle-notification
  ((_server stomper-eglot-server) (_method (eql window/showMessage)) &key type message
   &allow-other-keys)
  "Show the server's MESSAGE (of TYPE) as it is, pointing at `stomper-show-log'.
Eglot prefixes \"Server reports (type=3):\" and keeps \"the Stomper log\" vague."
  (let ((text (replace-regexp-in-string
               "Details in the Stomper log\\.\\'" "Details: M-x stomper-show-log."
               message t t)))
    (message "%s" (if (and (numberp type) (<= type 1)) (propertize text 'face 'error) text))))

;;; Whole-run undo: the run's edit spans buffers, but each buffer undoes on its own.

(defvar stomper--last-edit nil
  "The last fix run's edit: a list of (BUFFER BEFORE AFTER WAS-MODIFIED).")

(defun stomper--uri-to-path (uri)
  "URI (a string or Eglot's keyword) as a file name, with any Eglot version."
  (if (fboundp 'eglot-uri-to-path)
      (funcall 'eglot-uri-to-path uri)
    (funcall 'eglot--uri-to-path uri)))

(defun stomper--edited-paths (edit)
  "The files the WorkspaceEdit EDIT changes."
  (let ((paths nil))
    (cl-loop for (uri _edits) on (plist-get edit :changes) by #'cddr
             do (push (stomper--uri-to-path uri) paths))
    (cl-loop for change across (or (plist-get edit :documentChanges) [])
             for document = (plist-get change :textDocument)
             when (and document (plist-get change :edits))
             do (push (stomper--uri-to-path (plist-get document :uri)) paths))
    (delete-dups (nreverse paths))))

(defun stomper--text (buffer)
  (with-current-buffer buffer
    (save-restriction (widen) (buffer-substring-no-properties (point-min) (point-max)))))

(defvar eglot-confirm-server-edits)     ; Eglot 1.17+

(cl-defmethod eglot-handle-request
  ((server stomper-eglot-server) (_method (eql workspace/applyEdit)) &rest args &key edit
   &allow-other-keys)
  "Apply a fix run's edit without asking (unless `stomper-confirm-edits'), and
remember every buffer's text before and after it for `stomper-undo'."
  (let* ((buffers (mapcar #'find-file-noselect (stomper--edited-paths edit)))
         (before (mapcar (lambda (buffer)
                           (list buffer (stomper--text buffer)
                                 (buffer-modified-p buffer)))
                         buffers))
         (eglot-confirm-server-initiated-edits (and stomper-confirm-edits 'confirm))
         (eglot-confirm-server-edits (and stomper-confirm-edits t))
         (answer (apply #'cl-call-next-method server 'workspace/applyEdit args)))
    (setq stomper--last-edit
          (cl-loop for (buffer text modified) in before
                   for after = (stomper--text buffer)
                   unless (equal text after)
                   collect (list buffer text after modified)))
    answer))

(defun stomper--buffer-label (buffer)
  (if (buffer-live-p buffer) (buffer-name buffer) "a buffer"))

;;;###autoload
(defun stomper-undo ()
  "Undo the last fix run in every buffer it changed, or in none.
If you edited one of them since, nothing is undone and that buffer is named."
  (interactive)
  (unless stomper--last-edit
    (user-error "Stomper: no fix run to undo in this session"))
  (let ((todo nil))
    (cl-loop for entry in stomper--last-edit
             for (buffer before after) = entry
             do (cond ((not (buffer-live-p buffer))
                       (user-error "Stomper: a buffer of the fix run was killed; nothing undone"))
                      ((equal (stomper--text buffer) before)) ; undone there already
                      ((equal (stomper--text buffer) after) (push entry todo))
                      (t (user-error "Stomper: %s was edited since the fix run; nothing undone"
                                     (stomper--buffer-label buffer)))))
    (dolist (entry todo)
      (pcase-let ((`(,buffer ,before ,_after ,was-modified) entry))
        (with-current-buffer buffer
          (let ((saved (not (buffer-modified-p))))
            (save-restriction
              (widen)
              (let ((source (generate-new-buffer " *stomper-undo*")))
                (unwind-protect
                    (progn
                      (with-current-buffer source (insert before))
                      (replace-buffer-contents source))
                  (kill-buffer source))))
            ;; Back to the text on disk (nobody saved the fix): unmodified again.
            (when (and (not was-modified) (not saved))
              (set-buffer-modified-p nil))))))
    (setq stomper--last-edit nil)
    (message "Stomper: undid the fix run in %d buffer%s" (length todo)
             (if (= (length todo) 1) "" "s"))))

(defun stomper--server ()
  "The Stomper server managing this buffer, or a user error."
  (let ((server (eglot-current-server)))
    (unless (cl-typep server 'stomper-eglot-server)
      (user-error "Stomper is not running for this buffer (M-x eglot)"))
    server))

(defun stomper--path-to-uri (path)
  "PATH as a file URI, with the Eglot of any Emacs version."
  (if (fboundp 'eglot-path-to-uri)
      (funcall 'eglot-path-to-uri path)
    (funcall 'eglot--path-to-uri path)))

(defun stomper--execute (command &rest arguments)
  "Run the server's COMMAND with ARGUMENTS; its answer."
  ;; Eglot sends buffer changes after an idle delay: flush them first, so the fix run
  ;; snapshots what the user sees and its edit matches the buffer's version.
  (when (fboundp 'eglot--signal-textDocument/didChange)
    (funcall 'eglot--signal-textDocument/didChange))
  ;; A refusal ("already fixing") reaches the echo area as the server's showMessage.
  (jsonrpc-request (stomper--server) :workspace/executeCommand
                   (list :command command :arguments (apply #'vector arguments))))

;;;###autoload
(defun stomper-fix-file ()
  "Fix the current file in the background; the fixes arrive as one edit."
  (interactive)
  (unless buffer-file-name
    (user-error "This buffer visits no file"))
  (stomper--execute "stomper.fixFile" (stomper--path-to-uri buffer-file-name)))

;;;###autoload
(defun stomper-fix-all ()
  "Fix every file of the current project in the background."
  (interactive)
  (stomper--execute "stomper.fixAll"))

;;;###autoload
(defun stomper-resume ()
  "Fix all again, reusing every file an interrupted fix-all already finished."
  (interactive)
  (stomper--execute "stomper.resume"))

;;;###autoload
(defun stomper-cancel ()
  "Cancel the current project's fix run; nothing is changed."
  (interactive)
  ;; The server says what happened ("no fix run to cancel", "cancelled").
  (stomper--execute "stomper.cancel"))

;;;###autoload
(defun stomper-show-log ()
  "Show the server's log: `stomper-log-file' if set, else Eglot's events buffer.
Where \"Details in the Stomper log\" leads."
  (interactive)
  (if (and stomper-log-file (file-readable-p stomper-log-file))
      (with-current-buffer (find-file-read-only-other-window stomper-log-file)
        (auto-revert-tail-mode 1)
        (goto-char (point-max)))
    (eglot-events-buffer (stomper--server))))

(add-to-list 'eglot-server-programs
             '((python-mode python-ts-mode) . stomper--contact))

(provide 'stomper)
;;; stomper.el ends here
