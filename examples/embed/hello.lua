-- hello.lua: the WebSocket side of the embed example, served at /ws by
-- a Go program (main.go) beside its own routes. JSON in and out.
local M = {}

function M.open(conn)
  conn:send({hello = "welcome", id = conn.id})
end

function M.message(conn, msg)
  conn:send({echo = msg, from = conn.id})
end

function M.close(conn, code)
  luaws.log.info("goodbye", "id", conn.id, "code", code)
end

return M
