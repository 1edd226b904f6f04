;;; emacs_driver.el --- drive stomper.el in `emacs --batch' for tests  -*- lexical-binding: t; -*-

;; Loaded by tests/editors/test_emacs.py with the parameters in the JSON file named by
;; $STOMPER_EMACS_PARAMS.  Opens the file, starts Eglot the way `eglot-ensure' would
;; (through `eglot-server-programs', so stomper.el's entry is what runs), waits for
;; Flymake diagnostics, optionally runs `stomper-fix-file' and waits for the buffer to
;; be fixed, then writes what it saw to params.out as JSON.  Every wait is bounded.

(require 'json)
(require 'package)
(package-initialize)

(defvar driver-params
  (let ((json-object-type 'alist) (json-array-type 'list) (json-key-type 'symbol))
    (json-read-file (getenv "STOMPER_EMACS_PARAMS"))))

(defun driver-param (key) (alist-get key driver-params))

(defvar driver-settings
  ;; As a user writes them: a plist, JSON arrays as vectors.
  (let ((json-object-type 'plist) (json-array-type 'vector) (json-key-type 'keyword))
    (plist-get (json-read-file (getenv "STOMPER_EMACS_PARAMS")) :settings)))

(add-to-list 'load-path (driver-param 'plugin_dir))
(require 'stomper)
(setq stomper-server-command (driver-param 'cmd)
      stomper-log-file (driver-param 'log_file)
      stomper-settings driver-settings
      make-backup-files nil
      create-lockfiles nil)
;; The fix-all scenario keeps Eglot's default, which asks before server edits.
(unless (driver-param 'fix_all)
  (setq eglot-confirm-server-initiated-edits nil))

;; What the user is asked and what the echo area shows.
(defvar driver-questions nil)
(defvar driver-echo nil)
(advice-add 'y-or-n-p :override
            (lambda (prompt &rest _) (push prompt driver-questions) t))
(advice-add 'message :around
            (lambda (show format-string &rest args)
              (when format-string
                (push (apply #'format-message format-string args) driver-echo))
              (apply show format-string args)))

(defvar driver-result nil)
(defvar driver-messages nil)

(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (when (eq method 'window/showMessage)
                (push (plist-get params :message) driver-messages))))

(defun driver-diagnostics ()
  (mapcar #'flymake-diagnostic-text (flymake-diagnostics)))

(defun driver-wait (predicate seconds)
  "Process events until PREDICATE is non-nil or SECONDS pass; the last value."
  (let ((deadline (+ (float-time) seconds)) value)
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil 0.1))
    value))

(defun driver-finish (status)
  (push (cons 'status status) driver-result)
  (push (cons 'diagnostics (vconcat (driver-diagnostics))) driver-result)
  (push (cons 'text (buffer-substring-no-properties (point-min) (point-max))) driver-result)
  (push (cons 'modified (if (buffer-modified-p) t :json-false)) driver-result)
  (push (cons 'messages (vconcat driver-messages)) driver-result)
  (push (cons 'emacs emacs-version) driver-result)
  (with-temp-file (driver-param 'out) (insert (json-encode driver-result)))
  (kill-emacs 0))

(defun driver-has-code (code)
  (seq-some (lambda (text) (string-match-p (regexp-quote (format "[%s]" code)) text))
            (driver-diagnostics)))

(defun driver-texts ()
  "Every file of params.files: its buffer's text, or nil if no buffer visits it."
  (mapcar (lambda (file)
            (let ((buffer (find-buffer-visiting file)))
              (cons file (and buffer (with-current-buffer buffer (buffer-string))))))
          (driver-param 'files)))

(defun driver-flush-changes ()
  "Send pending didChange for every buffer, as Eglot's idle timer would."
  (dolist (buffer (buffer-list))
    (with-current-buffer buffer
      (when (and (bound-and-true-p eglot--managed-mode) buffer-file-name)
        (eglot--signal-textDocument/didChange)))))

(defun driver-try-undo ()
  "`stomper-undo'; a refusal's message instead of an error."
  (condition-case err
      (progn (stomper-undo) nil)
    (user-error (error-message-string err))))

(defun driver-fix-all-and-undo ()
  "M-x stomper-fix-all over params.files, then `stomper-undo': refused while the
second file has a later edit, done once that edit is gone."
  (let ((second (cadr (driver-param 'files))))
    (push (cons 'fix_result (stomper-fix-all)) driver-result)
    (unless (driver-wait
             (lambda ()
               (driver-flush-changes)
               (and (seq-some (lambda (m) (string-match-p " left\\." m)) driver-messages)
                    (cl-every #'cdr (driver-texts))))
             (driver-param 'timeout_s))
      (driver-finish "timeout"))
    (push (cons 'fixed (driver-texts)) driver-result)
    (push (cons 'echo (vconcat (reverse driver-echo))) driver-result)
    (with-current-buffer (find-buffer-visiting second)
      (goto-char (point-min))
      (insert "# typed\n"))
    (push (cons 'refusal (driver-try-undo)) driver-result)
    (push (cons 'refused (driver-texts)) driver-result)
    (with-current-buffer (find-buffer-visiting second)
      (goto-char (point-min))
      (delete-region (point) (line-beginning-position 2)))
    (push (cons 'undo_error (driver-try-undo)) driver-result)
    (push (cons 'undone (driver-texts)) driver-result)
    (push (cons 'undone_modified
                (vconcat
                 (mapcar (lambda (file)
                           (if (buffer-modified-p (find-buffer-visiting file)) t :json-false))
                         (driver-param 'files))))
          driver-result)
    (push (cons 'questions (vconcat driver-questions)) driver-result)
    (setq driver-echo nil)
    (stomper-cancel)
    (driver-wait (lambda () (seq-some (lambda (m) (string-match-p "cancel" m)) driver-echo)) 10)
    (accept-process-output nil 0.3)
    (push (cons 'cancel_echo (vconcat (reverse driver-echo))) driver-result)
    (save-window-excursion
      (stomper-show-log)
      (with-current-buffer (window-buffer (selected-window))  ; what the user now sees
        (push (cons 'log (list (cons 'file buffer-file-name)
                               (cons 'has_run (and (search-backward "fix run in" nil t) t))))
              driver-result)))))

(condition-case err
    (progn
      (find-file (driver-param 'file))
      (python-mode)
      (apply #'eglot (eglot--guess-contact))
      (push (cons 'server_class (symbol-name (eieio-object-class (eglot-current-server))))
            driver-result)
      (unless (driver-wait (lambda () (driver-has-code (driver-param 'expect_code)))
                           (driver-param 'timeout_s))
        (driver-finish "timeout"))
      (push (cons 'first_diagnostics (vconcat (driver-diagnostics))) driver-result)
      ;; What stomper.el answers when the server asks for the project folder's settings.
      (push (cons 'configuration
                  (eglot-handle-request
                   (eglot-current-server) 'workspace/configuration
                   :items (vector (list :scopeUri (stomper--path-to-uri default-directory)
                                        :section "stomper"))))
            driver-result)
      (when (driver-param 'fix_all)
        (driver-fix-all-and-undo))
      (when (driver-param 'fix)
        (goto-char (point-max))
        (insert (driver-param 'unsaved_line) "\n")
        (push (cons 'fix_result (stomper-fix-file)) driver-result)
        (unless (driver-wait
                 (lambda ()
                   ;; Eglot sends didChange from an idle timer, and batch Emacs is
                   ;; never idle: send the applied edit the way that timer would.
                   (eglot--signal-textDocument/didChange)
                   (and (null (driver-diagnostics))
                        (not (seq-some (lambda (marker) (search-forward marker nil t))
                                       (progn (goto-char (point-min)) (driver-param 'gone))))))
                 (driver-param 'timeout_s))
          (driver-finish "timeout")))
      (driver-finish "ok"))
  (error (push (cons 'error (format "%S" err)) driver-result)
         (driver-finish "error")))
