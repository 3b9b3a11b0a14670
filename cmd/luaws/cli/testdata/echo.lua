-- echo.lua: sends back every message, and says so in the log when a
-- connection closes (the CLI tests read that line).
local M = {}

function M.message(conn, msg)
  conn:send(msg)
end

function M.close(conn, code, reason)
  luaws.log.info("close handler", "id", conn.id, "code", code)
end

return M
