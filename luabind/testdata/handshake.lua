-- handshake.lua routes /rooms/<name>, picks a subprotocol from what the
-- client offered, adds a response header and seeds conn.data.
local M = {}

-- Tokens seen by handshake and not yet by open. A Lua global of one
-- worker, so open finds its token only if it runs on the handshake's worker.
local pending = {}

function M.handshake(req)
  local room = req.path:match("^/rooms/(%w+)$")
  if not room then return false, 404, "no such room" end
  if room == "secret" then return false end
  if room == "teapot" then return false, 418 end
  if room == "boom" then error("handshake exploded") end
  if room == "bad" then return "yes" end
  if room == "badstatus" then return false, 200 end
  if room == "typo" then return { subprotocols = "chat" } end
  if room == "plain" then return end
  if room == "yes" then return true end
  local sp = req.query.pick
  if not sp then
    for _, p in ipairs(req.subprotocols) do
      if p == "chat" then sp = "chat" end
    end
  end
  pending[req.query.token or ""] = true
  return {
    subprotocol = sp,
    headers = { ["X-Room"] = room, ["X-Multi"] = { "a", "b" } },
    data = { room = room, user = req.query.user, tags = { "x", "y" }, none = luaws.null },
  }
end

function M.open(conn, req)
  local token = req.query.token or ""
  local where = pending[token] and "same" or "other"
  pending[token] = nil
  if conn.path:match("^/rooms/(%w+)$") ~= conn.data.room then
    conn:send("no data")
    return
  end
  conn:send(string.format("%s %s %s %s %s", conn.data.room, tostring(conn.data.user),
    table.concat(conn.data.tags, ","), conn.subprotocol, where))
end

return M
