-- Stomper for Neovim: starts `stomper-lsp` for Python buffers and adds the fix commands.
--
-- Works on Neovim 0.7 (Debian stable) through 0.11+: `vim.lsp.start` from 0.9 on, else
-- `vim.lsp.start_client` + `vim.lsp.buf_attach_client` with one client per project
-- root, which is what `vim.lsp.start` does for us on newer versions.
--
--   require("stomper").setup({
--     cmd = { "stomper-lsp" },                    -- or { "/path/python", "-m", "stomper_lsp" }
--     settings = { agent = "ruff", maxParallelFiles = 4 },
--   })

local M = {}

local NAME = "stomper"
local GROUP = "stomper"

local defaults = {
  -- The server's argv. `stomper-lsp` must be on $PATH, or give an absolute path.
  cmd = { "stomper-lsp" },
  -- Appended to `cmd` as `--log-file PATH` when set: the server's own log.
  log_file = nil,
  filetypes = { "python" },
  -- The project root is the nearest folder with the first marker found walking up,
  -- tried marker by marker: a sub-project's pyproject.toml beats the repository's .git.
  root_markers = { "pyproject.toml", ".git" },
  -- The `stomper` settings section (camelCase keys, see docs/editors.md). Sent as
  -- initializationOptions and answered to workspace/configuration.
  settings = {},
  -- Echo fix-run progress ($/progress) in the message area.
  progress = true,
  on_attach = nil,
  capabilities = nil,
}

M.config = vim.deepcopy(defaults)

-- Neovim 0.7 has no vim.uv/vim.fs; vim.loop exists everywhere up to now.
local uv = vim.uv or vim.loop

-- What fits on the command line without a "Press ENTER" prompt: `v:echospace` (the
-- columns left of the ruler and showcmd), else a conservative guess.
local function echo_width()
  local space = vim.v.echospace
  if type(space) ~= "number" or space <= 0 then
    space = vim.o.columns - 12
  end
  return math.max(space, 20)
end

--- `text` as one line that fits the command line; a cut one ends with `tail`.
function M.one_line(text, tail)
  text = vim.trim((text or ""):gsub("%s*\n%s*", " "))
  local width = echo_width()
  if vim.fn.strdisplaywidth(text) <= width then
    return text
  end
  tail = "…" .. (tail or "")
  local room = width - vim.fn.strdisplaywidth(tail)
  local cut = vim.fn.strcharpart(text, 0, room)
  while vim.fn.strdisplaywidth(cut) > room do
    cut = vim.fn.strcharpart(cut, 0, vim.fn.strchars(cut) - 1)
  end
  return vim.trim(cut) .. tail
end

-- Every message is one short line: Neovim stops at "Press ENTER" when a message wraps
-- or several pile up before a redraw. The whole text goes to the log (:StomperLog).
local function notify(message, level)
  if not vim.startswith(message, "Stomper") then
    message = "Stomper: " .. message
  end
  vim.notify(M.one_line(message, " :StomperLog"), level or vim.log.levels.INFO)
end

local function exists(path)
  return uv.fs_stat(path) ~= nil
end

local function parent(dir)
  local up = vim.fn.fnamemodify(dir, ":h")
  if up == dir then
    return nil
  end
  return up
end

--- The project root of `path`: nearest folder holding a marker, else the file's folder.
function M.root_dir(path)
  local start = vim.fn.fnamemodify(path, ":p:h")
  for _, marker in ipairs(M.config.root_markers) do
    local dir = start
    while dir do
      if exists(dir .. "/" .. marker) then
        return dir
      end
      dir = parent(dir)
    end
  end
  return start
end

local function command_line()
  local cmd = M.config.cmd
  if type(cmd) == "string" then
    cmd = { cmd }
  end
  cmd = vim.deepcopy(cmd)
  if M.config.log_file then
    table.insert(cmd, "--log-file")
    table.insert(cmd, vim.fn.expand(M.config.log_file))
  end
  return cmd
end

local function is_stopped(client)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- `bufnr`, where nil and 0 mean the current buffer.
local function buffer(bufnr)
  return (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
end

local function request(client, method, params, handler, bufnr)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- Stomper clients attached to `bufnr` (0: current buffer), on every Neovim version.
function M.clients(bufnr)
  bufnr = buffer(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr, name = NAME })
  end
  local found = {}
  for _, client in pairs(vim.lsp.get_active_clients()) do
    if client.name == NAME and vim.lsp.buf_is_attached(bufnr, client.id) then
      table.insert(found, client)
    end
  end
  return found
end

local function progress_handler(err, result, ctx, config)
  local default = vim.lsp.handlers["$/progress"]
  if default then
    default(err, result, ctx, config)
  end
  if not M.config.progress or type(result) ~= "table" or type(result.value) ~= "table" then
    return
  end
  local value = result.value
  -- The end's message is the run's summary, which window/showMessage brings too:
  -- echoing both would pile two lines up (a hit-enter prompt).
  if value.kind == "end" then
    return
  end
  local text = value.title or value.message
  if value.kind ~= "begin" then
    text = value.message
  end
  if text and text ~= "" then
    if value.percentage then
      text = string.format("%s (%d%%)", text, value.percentage)
    end
    if not vim.startswith(text, "Stomper") then
      text = "Stomper: " .. text
    end
    vim.api.nvim_echo({ { M.one_line(text) } }, false, {})
  end
end

-- The server's log lines (window/logMessage) of this session, for :StomperLog. Neovim's
-- own handler writes only warnings and errors to lsp.log at its default level, which
-- left "Details in the Stomper log" pointing at nothing.
local LOG_LINES = 5000
M.log_lines = {}

local MESSAGE_TYPES = { "ERROR", "WARN", "INFO", "LOG", "DEBUG" }

local function log_message_handler(err, result, ctx, config)
  local default = vim.lsp.handlers["window/logMessage"]
  if default then
    default(err, result, ctx, config)
  end
  if type(result) ~= "table" or type(result.message) ~= "string" then
    return
  end
  local level = MESSAGE_TYPES[result.type] or "LOG"
  local stamp = os.date("%H:%M:%S")
  for line in vim.gsplit(result.message, "\n", true) do
    table.insert(M.log_lines, string.format("%s %s %s", stamp, level, line))
  end
  local extra = #M.log_lines - LOG_LINES
  if extra > 0 then
    M.log_lines = vim.list_slice(M.log_lines, extra + 1)
  end
end

-- The server's messages for the user (fix summaries, refusals): one short line each,
-- pointing at :StomperLog for the rest (the server logs every one of them in full).
local SHOW_LEVELS = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.INFO }

local function show_message_handler(_, result)
  if type(result) ~= "table" or type(result.message) ~= "string" then
    return vim.NIL
  end
  local text = result.message:gsub("%s*Details in the Stomper log%.$", " (:StomperLog)")
  notify(text, SHOW_LEVELS[result.type] or vim.log.levels.INFO)
  return vim.NIL
end

local function current_settings()
  local settings = M.config.settings or {}
  if next(settings) == nil then
    return vim.empty_dict() -- `{}` on the wire, not `[]`
  end
  return settings
end

-- The server asks for the `stomper` section (global, then per folder); every scope gets
-- the settings given to setup() or set_settings().
local function configuration_handler(_, result)
  local answers = {}
  for i, item in ipairs((result or {}).items or {}) do
    if item.section == nil or item.section == NAME then
      answers[i] = current_settings()
    else
      answers[i] = vim.NIL
    end
  end
  return answers
end

-- :StomperUndo. The server delivers a run as one workspace/applyEdit; Neovim applies it
-- buffer by buffer, each its own undo step, so `u` reverts one buffer only. Before
-- applying, every buffer's undo state is recorded; :StomperUndo takes each back to it.
M.last_edit = nil

local function edited_uris(edit)
  local uris = {}
  for uri in pairs(edit.changes or {}) do
    table.insert(uris, uri)
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.edits then
      table.insert(uris, change.textDocument.uri)
    end
  end
  return uris
end

local function undo_seq(bufnr)
  return vim.api.nvim_buf_call(bufnr, function()
    return vim.fn.undotree().seq_cur
  end)
end

local function lines_of(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

local function apply_edit_handler(err, result, ctx, config)
  local default = vim.lsp.handlers["workspace/applyEdit"]
  local before = {}
  if type(result) == "table" and type(result.edit) == "table" then
    for _, uri in ipairs(edited_uris(result.edit)) do
      local bufnr = vim.uri_to_bufnr(uri)
      vim.fn.bufload(bufnr)
      before[bufnr] = { seq = undo_seq(bufnr), lines = lines_of(bufnr), uri = uri }
    end
  end
  if type(result) == "table" and result.label then
    -- Neovim 0.10+ prints the label ("Workspace edit Stomper: fix ..."): a second line
    -- right before the run's summary, which says the same.
    result = vim.tbl_extend("force", {}, result)
    result.label = nil
  end
  local answer = default(err, result, ctx, config)
  if type(answer) == "table" and answer.applied and next(before) then
    local buffers = {}
    for bufnr, state in pairs(before) do
      state.bufnr = bufnr
      state.after_seq = undo_seq(bufnr)
      state.after_lines = lines_of(bufnr)
      table.insert(buffers, state)
    end
    M.last_edit = { buffers = buffers }
  end
  return answer
end

local function display_name(state)
  return vim.fn.fnamemodify(vim.uri_to_fname(state.uri), ":~:.")
end

--- Revert the last fix run's edit in every buffer it changed, or none of them: a
--- buffer edited since then is named and everything is left as it is.
function M.undo()
  local last = M.last_edit
  if not last then
    notify("no fix run to undo in this session")
    return false
  end
  local todo = {}
  for _, state in ipairs(last.buffers) do
    local bufnr = state.bufnr
    if not vim.api.nvim_buf_is_loaded(bufnr) then
      notify(display_name(state) .. " was closed since the fix run; nothing undone", vim.log.levels.WARN)
      return false
    end
    local seq, lines = undo_seq(bufnr), lines_of(bufnr)
    if not (seq == state.seq and vim.deep_equal(lines, state.lines)) then
      if seq ~= state.after_seq or not vim.deep_equal(lines, state.after_lines) then
        notify(display_name(state) .. " was edited since the fix run; nothing undone", vim.log.levels.WARN)
        return false
      end
      table.insert(todo, state)
    end
  end
  for _, state in ipairs(todo) do
    vim.api.nvim_buf_call(state.bufnr, function()
      vim.cmd("silent undo " .. state.seq)
    end)
  end
  M.last_edit = nil
  local failed = {}
  for _, state in ipairs(todo) do
    if not vim.deep_equal(lines_of(state.bufnr), state.lines) then
      table.insert(failed, display_name(state))
    end
  end
  if #failed > 0 then
    notify("could not fully undo " .. table.concat(failed, ", "), vim.log.levels.ERROR)
    return false
  end
  notify(string.format("undid the fix run in %d buffer%s", #last.buffers, #last.buffers == 1 and "" or "s"))
  return true
end

--- The server's log: the `log_file` given to setup(), else this session's
--- window/logMessage lines in a scratch buffer.
function M.open_log()
  local file = M.config.log_file and vim.fn.expand(M.config.log_file)
  if file and uv.fs_stat(file) then
    vim.cmd("split " .. vim.fn.fnameescape(file))
    vim.bo.readonly = true
    vim.bo.autoread = true
    vim.cmd("silent! checktime")
  else
    local bufnr = vim.fn.bufnr("stomper://log")
    if bufnr == -1 then
      bufnr = vim.api.nvim_create_buf(false, true)
      vim.api.nvim_buf_set_name(bufnr, "stomper://log")
      vim.bo[bufnr].bufhidden = "hide"
      vim.bo[bufnr].swapfile = false
    end
    vim.bo[bufnr].modifiable = true
    local lines = #M.log_lines > 0 and M.log_lines or { "(the Stomper server has logged nothing yet)" }
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
    vim.bo[bufnr].modifiable = false
    vim.bo[bufnr].modified = false
    vim.cmd("split")
    vim.api.nvim_win_set_buf(0, bufnr)
  end
  vim.cmd("normal! G")
end

local function client_config(root)
  return {
    name = NAME,
    cmd = command_line(),
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    -- The settings travel as initializationOptions and through workspace/configuration
    -- (the handler below). Not as `settings`: Neovim would then also send them in a
    -- didChangeConfiguration right after start-up, and the server would check every
    -- open file twice.
    init_options = current_settings(),
    capabilities = M.config.capabilities,
    on_attach = M.config.on_attach,
    handlers = {
      ["$/progress"] = progress_handler,
      ["workspace/configuration"] = configuration_handler,
      ["workspace/applyEdit"] = apply_edit_handler,
      ["window/showMessage"] = show_message_handler,
      ["window/logMessage"] = log_message_handler,
    },
  }
end

local function all_clients()
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ name = NAME })
  end
  local found = {}
  for _, client in pairs(vim.lsp.get_active_clients()) do
    if client.name == NAME then
      table.insert(found, client)
    end
  end
  return found
end

local function notify_client(client, method, params)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

--- Replace the settings of running servers (and of servers started from now on).
function M.set_settings(settings)
  M.config.settings = settings or {}
  for _, client in ipairs(all_clients()) do
    notify_client(client, "workspace/didChangeConfiguration", { settings = { [NAME] = current_settings() } })
  end
end

local warned_missing = false

-- Neovim 0.7 and 0.8: root -> client id, so every buffer of a project shares one server.
local legacy_clients = {}

local function start_legacy(config, bufnr)
  local id = legacy_clients[config.root_dir]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or is_stopped(client) then
    id = vim.lsp.start_client(config)
    if not id then
      return nil
    end
    legacy_clients[config.root_dir] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

--- Start (or reuse) the server for `bufnr` if it is a file of one of `filetypes`.
function M.attach(bufnr)
  bufnr = buffer(bufnr)
  if vim.bo[bufnr].buftype ~= "" or not vim.tbl_contains(M.config.filetypes, vim.bo[bufnr].filetype) then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or name:match("^%a[%w+.-]*://") then
    return nil -- unnamed buffers and fugitive://, oil:// ...: not files on disk
  end
  local executable = command_line()[1]
  if vim.fn.executable(executable) ~= 1 then
    if not warned_missing then
      warned_missing = true
      notify(
        string.format("'%s' is not executable; set `cmd` in require('stomper').setup()", executable),
        vim.log.levels.WARN
      )
    end
    return nil
  end
  local config = client_config(M.root_dir(name))
  -- vim.lsp.start takes the buffer to attach from 0.9 on (0.8 attaches the current one).
  if vim.lsp.start and vim.fn.has("nvim-0.9") == 1 then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  return start_legacy(config, bufnr)
end

local function the_client(bufnr)
  local client = M.clients(bufnr)[1]
  if not client then
    notify("no Stomper server is attached to this buffer", vim.log.levels.WARN)
  end
  return client
end

local function execute_on(client, command, arguments, bufnr, on_result)
  local params = { command = command, arguments = arguments }
  request(client, "workspace/executeCommand", params, function(err, result)
    -- A refusal ("already fixing") and a cancel's outcome reach the user as the
    -- server's own window/showMessage: saying them here too would be a second line.
    if err then
      notify(command .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
    if on_result then
      on_result(result, err)
    end
  end, bufnr)
  return true
end

--- `workspace/executeCommand` on the buffer's Stomper server; `on_result(result)` if given.
function M.execute(command, arguments, bufnr, on_result)
  bufnr = buffer(bufnr)
  local client = the_client(bufnr)
  if not client then
    return false
  end
  return execute_on(client, command, arguments, bufnr, on_result)
end

--- `command` with the project of the buffer's server (its root folder) as argument.
local function execute_for_project(command, bufnr)
  bufnr = buffer(bufnr)
  local client = the_client(bufnr)
  if not client then
    return false
  end
  return execute_on(client, command, { vim.uri_from_fname(client.config.root_dir) }, bufnr)
end

--- Fix the current buffer's file in the background; the edit arrives via applyEdit.
function M.fix_file(bufnr)
  bufnr = buffer(bufnr)
  return M.execute("stomper.fixFile", { vim.uri_from_bufnr(bufnr) }, bufnr)
end

--- Fix every file of the current buffer's project.
function M.fix_all(bufnr)
  return execute_for_project("stomper.fixAll", bufnr)
end

--- Fix all again, reusing every file an interrupted fix-all already finished.
function M.resume(bufnr)
  return execute_for_project("stomper.resume", bufnr)
end

--- Cancel the fix run of the current buffer's project.
function M.cancel(bufnr)
  return execute_for_project("stomper.cancel", bufnr)
end

--- Stop every Stomper server and start them again for the open Python buffers
--- (after upgrading Stomper or changing `cmd`).
function M.restart()
  local clients = all_clients()
  for _, client in ipairs(clients) do
    if vim.fn.has("nvim-0.11") == 1 then
      client:stop()
    else
      client.stop()
    end
  end
  legacy_clients = {}
  warned_missing = false
  local function again(tries)
    local alive = false
    for _, client in ipairs(clients) do
      alive = alive or not is_stopped(client)
    end
    if alive and tries > 0 then
      vim.defer_fn(function()
        again(tries - 1)
      end, 100)
      return
    end
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) then
        M.attach(buf)
      end
    end
  end
  again(50)
end

local function create_commands()
  local command = vim.api.nvim_create_user_command
  command("StomperFixFile", function()
    M.fix_file(0)
  end, { desc = "Stomper: fix this file" })
  command("StomperFixAll", function()
    M.fix_all(0)
  end, { desc = "Stomper: fix every file of this project" })
  command("StomperResume", function()
    M.resume(0)
  end, { desc = "Stomper: fix all, reusing what an interrupted run finished" })
  command("StomperCancel", function()
    M.cancel(0)
  end, { desc = "Stomper: cancel the running fix run" })
  command("StomperRestart", function()
    M.restart()
  end, { desc = "Stomper: restart the language server" })
  command("StomperUndo", function()
    M.undo()
  end, { desc = "Stomper: undo the last fix run in every buffer it changed" })
  command("StomperLog", function()
    M.open_log()
  end, { desc = "Stomper: open the server's log" })
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  -- Lists are replaced, not merged index by index (tbl_deep_extend merges them).
  for _, key in ipairs({ "cmd", "filetypes", "root_markers" }) do
    if opts and opts[key] ~= nil then
      M.config[key] = opts[key]
    end
  end
  if opts and opts.settings ~= nil then
    M.config.settings = opts.settings
  end
  create_commands()
  local group = vim.api.nvim_create_augroup(GROUP, { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
    desc = "Start Stomper's language server",
  })
  -- Buffers opened before setup() ran (lazy loading on the python filetype).
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      M.attach(buf)
    end
  end
end

return M
