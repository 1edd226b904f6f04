-- Headless Neovim driver for tests/editors/test_neovim.py.
--
-- Loaded with `nvim --headless --clean -u nvim_driver.lua FILE`. Reads its parameters
-- from the JSON file named by $STOMPER_NVIM_PARAMS, sets the plugin up exactly as a user
-- would, polls the buffer's diagnostics (and, for the fix scenario, runs :StomperFixFile
-- and polls the buffer text), writes what it saw to params.out as JSON, then quits.
-- Every wait is bounded: on timeout it still writes what it saw, with status "timeout".

local function read_json(path)
  return vim.json.decode(table.concat(vim.fn.readfile(path), "\n"))
end

local params = read_json(vim.env.STOMPER_NVIM_PARAMS)
vim.opt.runtimepath:prepend(params.plugin_dir)
vim.o.swapfile = false
vim.o.shadafile = "NONE"
vim.lsp.set_log_level("warn")

local stomper = require("stomper")
local log_file = params.log_file ~= vim.NIL and params.log_file or nil
stomper.setup({ cmd = params.cmd, log_file = log_file, settings = params.settings })

local version = vim.version()
local caps = vim.lsp.protocol.make_client_capabilities()
local result = {
  nvim = string.format("%d.%d.%d", version.major, version.minor, version.patch),
  document_changes = (caps.workspace.workspaceEdit or {}).documentChanges == true,
  stage = "attach",
  messages = {},
  lsp_log = vim.lsp.get_log_path(),
}

-- Record what the server tells the user (fix summaries arrive as showMessage).
local show = vim.lsp.handlers["window/showMessage"]
vim.lsp.handlers["window/showMessage"] = function(err, res, ctx, config)
  if res and res.message then
    table.insert(result.messages, res.message)
  end
  return show(err, res, ctx, config)
end

-- And what the plugin tells the user.
result.notifications = {}
local notify = vim.notify
vim.notify = function(message, level, opts)
  table.insert(result.notifications, message)
  return notify(message, level, opts)
end

local function buffer()
  return vim.fn.bufnr(params.file)
end

local function diagnostics()
  local seen = {}
  for _, d in ipairs(vim.diagnostic.get(buffer())) do
    table.insert(seen, { code = d.code, source = d.source, lnum = d.lnum, message = d.message })
  end
  return seen
end

local function has_code(seen, code)
  for _, d in ipairs(seen) do
    if d.code == code then
      return true
    end
  end
  return false
end

local function finish(status)
  result.status = status
  result.diagnostics = diagnostics()
  result.lines = vim.api.nvim_buf_get_lines(buffer(), 0, -1, false)
  result.modified = vim.bo[buffer()].modified
  result.clients = #stomper.clients(buffer())
  result.message_history = vim.fn.execute("messages")
  vim.fn.writefile({ vim.json.encode(result) }, params.out)
  vim.cmd("qa!")
end

local deadline = vim.loop.now() + params.timeout_ms
local fix_sent = false

-- params.steps: a scenario of user commands, each started once and then polled until
-- done. After each, the text of every file in params.files is recorded in result.after.
local function texts()
  local seen = {}
  for _, file in ipairs(params.files or {}) do
    local bufnr = vim.fn.bufnr(file)
    seen[file] = bufnr ~= -1 and vim.api.nvim_buf_is_loaded(bufnr)
        and vim.api.nvim_buf_get_lines(bufnr, 0, -1, false) or vim.NIL
  end
  return seen
end

local function notified_since(mark, needle)
  for i = mark + 1, #result.notifications do
    if result.notifications[i]:find(needle, 1, true) then
      return true
    end
  end
  return false
end

local function in_buffer(file, fn)
  return vim.api.nvim_buf_call(vim.fn.bufnr(file), fn)
end

local steps = {
  fix_all = {
    start = function() vim.cmd("StomperFixAll") end,
    done = function(mark) return notified_since(mark, " left") end,
  },
  cancel_idle = {
    start = function() vim.cmd("StomperCancel") end,
    done = function(mark) return notified_since(mark, "no fix run to cancel") end,
  },
  fix_and_cancel = {
    start = function()
      vim.cmd("StomperFixAll")
      vim.cmd("StomperCancel")
    end,
    done = function(mark) return notified_since(mark, "cancel") end,
  },
  edit = { -- the user types in the second file after the run
    start = function()
      in_buffer(params.files[2], function() vim.api.nvim_buf_set_lines(0, 0, 0, false, { "# typed" }) end)
    end,
  },
  unedit = { -- and takes it back with `u`
    start = function()
      in_buffer(params.files[2], function() vim.cmd("undo") end)
    end,
  },
  undo = { start = function() vim.cmd("StomperUndo") end },
  long_message = { -- a summary as long as a big run's, through the client's handler
    start = function()
      local client = stomper.clients(buffer())[1]
      local handler = client.handlers["window/showMessage"]
      local names = {}
      for i = 1, 30 do
        table.insert(names, string.format("pkg/module_%02d.py", i))
      end
      handler(nil, {
        type = 2,
        message = "Stomper: 30 files fixed (90 issues), 0 issues left. Merged with your edits in "
          .. table.concat(names, ", ") .. ". Details in the Stomper log.",
      }, { method = "window/showMessage", client_id = client.id })
    end,
  },
  health = {
    start = function()
      vim.cmd("checkhealth stomper")
      result.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
      vim.cmd("silent! tabclose")
    end,
  },
  log = {
    start = function()
      vim.cmd("StomperLog")
      result.log = {
        name = vim.api.nvim_buf_get_name(0),
        lines = vim.api.nvim_buf_get_lines(0, 0, -1, false),
      }
      vim.cmd("close")
    end,
  },
}
local step_index, step_mark = 0, 0
result.after = {}

local function run_steps()
  local current = steps[params.steps[step_index]]
  if current and current.done and not current.done(step_mark) then
    return false
  end
  if current then
    local modified = {}
    for _, file in ipairs(params.files or {}) do
      local bufnr = vim.fn.bufnr(file)
      modified[file] = bufnr ~= -1 and vim.bo[bufnr].modified
    end
    table.insert(result.after, { step = params.steps[step_index], texts = texts(), modified = modified })
  end
  step_index = step_index + 1
  if step_index > #params.steps then
    return true
  end
  step_mark = #result.notifications
  steps[params.steps[step_index]].start()
  return false
end

local function tick(timer)
  local ok, err = pcall(function()
    if vim.loop.now() > deadline then
      vim.fn.timer_stop(timer)
      finish("timeout")
      return
    end
    local seen = diagnostics()
    if result.stage == "attach" then
      if #stomper.clients(buffer()) > 0 then
        result.stage = "diagnostics"
      end
    elseif result.stage == "diagnostics" then
      if has_code(seen, params.expect_code) then
        result.first_diagnostics = seen
        if params.steps then
          result.stage = "steps"
          return
        end
        if params.cancel then
          vim.cmd("StomperCancel")
          result.stage = "cancel"
          return
        end
        if not params.fix then
          vim.fn.timer_stop(timer)
          finish("ok")
          return
        end
        -- An unsaved edit the fix must keep: the run snapshots open buffers.
        local last = vim.api.nvim_buf_line_count(buffer())
        vim.api.nvim_buf_set_lines(buffer(), last, last, false, { params.unsaved_line })
        result.stage = "fix"
      end
    elseif result.stage == "steps" then
      if run_steps() then
        vim.fn.timer_stop(timer)
        -- Let the last messages reach the screen before quitting.
        vim.defer_fn(function() finish("ok") end, 300)
      end
    elseif result.stage == "cancel" then
      if #result.notifications > 0 then
        if not params.restart then
          vim.fn.timer_stop(timer)
          finish("ok")
          return
        end
        result.first_client = stomper.clients(buffer())[1].id
        vim.cmd("StomperRestart")
        result.stage = "restart"
      end
    elseif result.stage == "restart" then
      -- A new server, attached to the buffer, with diagnostics of its own.
      local client = stomper.clients(buffer())[1]
      if client and client.id ~= result.first_client and has_code(seen, params.expect_code) then
        result.restarted_client = client.id
        vim.fn.timer_stop(timer)
        finish("ok")
      end
    elseif result.stage == "fix" then
      if not fix_sent then
        fix_sent = true
        vim.cmd(params.fix)
        return
      end
      local text = table.concat(vim.api.nvim_buf_get_lines(buffer(), 0, -1, false), "\n")
      local fixed = #seen == 0
      for _, marker in ipairs(params.gone) do
        fixed = fixed and not text:find(marker, 1, true)
      end
      if fixed then
        vim.fn.timer_stop(timer)
        finish("ok")
      end
    end
  end)
  if not ok then
    result.error = tostring(err)
    vim.fn.timer_stop(timer)
    finish("error")
  end
end

vim.fn.timer_start(100, tick, { ["repeat"] = -1 })
