-- echo.lua: sends every message back as it came, text as text, binary as
-- binary. Run it with: luaws serve scripts/echo.lua
local M = {}

function M.message(conn, msg, kind)
  if kind == "binary" then
    conn:send_binary(msg)
  else
    conn:send(msg)
  end
end

return M
