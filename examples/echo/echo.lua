-- echo.lua: sends every message back as it came, text as text and binary
-- as binary, with no serializer in between. Run it with:
--
--   luaws serve examples/echo/echo.lua
local M = {}

function M.message(conn, msg, kind)
  if kind == "binary" then
    conn:send_binary(msg)
  else
    conn:send(msg)
  end
end

return M
