-- unclosed.lua: ends inside a function.
local M = {}
function M.message(conn, msg)
  conn:send(msg)
