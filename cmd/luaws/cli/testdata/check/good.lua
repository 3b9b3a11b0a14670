-- good.lua: compiles and loads.
local M = {}
function M.message(conn, msg) conn:send(msg) end
return M
