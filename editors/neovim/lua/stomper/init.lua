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

local function notify(message, level)
  vim.notify("Stomper: " .. message, level or vim.log.levels.INFO)
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
    vim.api.nvim_echo({ { text } }, false, {})
  end
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
    if err then
      notify(command .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif type(result) == "table" and result.started == false and result.reason then
      notify(result.reason, vim.log.levels.WARN)
    elseif command == "stomper.cancel" and type(result) == "table" then
      notify(result.cancelled == 0 and "no fix run to cancel" or "cancelling the fix run")
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
