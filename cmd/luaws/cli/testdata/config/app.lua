-- app.lua: a valid script for the config tests; echoes.
local M = {}
function M.message(conn, msg) conn:send(msg) end
return M
