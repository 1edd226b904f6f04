;;; stomper.el --- Stomper language server for Eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: languages, tools, python
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Stomper's language server (`stomper-lsp') for Python buffers through Eglot: ruff and
;; mypy diagnostics in Flymake, quick fixes as code actions, and the commands
;; `stomper-fix-file', `stomper-fix-all' and `stomper-cancel', which run Stomper's fix
;; engine in the background and deliver the fixes as one edit.
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

(defclass stomper-eglot-server (eglot-lsp-server) ()
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
  "Run the server's COMMAND with ARGUMENTS; report a refusal in the echo area."
  ;; Eglot sends buffer changes after an idle delay: flush them first, so the fix run
  ;; snapshots what the user sees and its edit matches the buffer's version.
  (when (fboundp 'eglot--signal-textDocument/didChange)
    (funcall 'eglot--signal-textDocument/didChange))
  (let ((result (jsonrpc-request (stomper--server) :workspace/executeCommand
                                 (list :command command :arguments (apply #'vector arguments)))))
    (when (and (listp result) (eq (plist-get result :started) :json-false))
      (message "Stomper: %s" (plist-get result :reason)))
    result))

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
  (let ((result (stomper--execute "stomper.cancel")))
    (when (and (listp result) (eql (plist-get result :cancelled) 0))
      (message "Stomper: no fix run to cancel"))
    result))

(add-to-list 'eglot-server-programs
             '((python-mode python-ts-mode) . stomper--contact))

(provide 'stomper)
;;; stomper.el ends here
