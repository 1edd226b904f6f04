-- :checkhealth stomper — what a bug report needs: versions, the server command line,
-- running servers and where the logs are.

local M = {}

-- vim.health.* on 0.9+, require("health").report_* on 0.7/0.8.
local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local info = health.info or health.report_info
local warn = health.warn or health.report_warn
local error = health.error or health.report_error

function M.check()
  local stomper = require("stomper")
  start("stomper")
  local version = vim.version()
  if vim.fn.has("nvim-0.7") == 1 then
    ok(string.format("Neovim %d.%d.%d", version.major, version.minor, version.patch))
  else
    error("Neovim 0.7 or newer is required")
  end

  local cmd = stomper.config.cmd
  if type(cmd) == "string" then
    cmd = { cmd }
  end
  if vim.fn.executable(cmd[1]) ~= 1 then
    error(string.format("'%s' is not executable", cmd[1]), {
      "pipx install <your Stomper clone> (see docs/install.md; not on PyPI yet)",
      "or point setup({ cmd = { '/path/to/stomper-lsp' } }) at it",
    })
  else
    local argv = vim.list_extend(vim.deepcopy(cmd), { "--version" })
    local out = vim.fn.system(argv)
    if vim.v.shell_error == 0 then
      ok(string.format("%s (%s)", vim.trim(out), table.concat(cmd, " ")))
    else
      warn(string.format("`%s --version` failed: %s", table.concat(cmd, " "), vim.trim(out)))
    end
  end

  info("settings: " .. vim.inspect(stomper.config.settings or {}, { newline = " ", indent = "" }))
  -- Where "Details in the Stomper log" leads: :StomperLog opens it.
  if stomper.config.log_file then
    local file = vim.fn.expand(stomper.config.log_file)
    local state = (vim.uv or vim.loop).fs_stat(file) and "" or " (not written yet)"
    ok("server log: " .. file .. state .. "; :StomperLog opens it")
  else
    ok(string.format("server log: :StomperLog shows this session's %d lines"
      .. " (set `log_file` in setup() to keep it in a file)", #stomper.log_lines))
  end
  info("Neovim's LSP log (warnings and errors only by default): " .. vim.lsp.get_log_path())

  local clients = {}
  for _, client in pairs(vim.lsp.get_clients and vim.lsp.get_clients({ name = "stomper" })
    or vim.lsp.get_active_clients()) do
    if client.name == "stomper" then
      table.insert(clients, client)
    end
  end
  if #clients == 0 then
    info("no Stomper server is running (open a Python file)")
  end
  for _, client in ipairs(clients) do
    ok(string.format("server %d running for %s", client.id, client.config.root_dir))
  end
end

return M
