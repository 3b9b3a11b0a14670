-- syntax.lua: does not compile.
local M = {}
function M.message(conn, msg)
  conn:send(msg
end
return M
