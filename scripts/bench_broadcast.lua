-- bench_broadcast.lua: the server side of `luaws bench --mode broadcast`.
-- Run it with the JSON serializer:
--
--   luaws serve --serializer json scripts/bench_broadcast.lua
--
-- A client that sends {"broadcast": v} has v sent to every other
-- connection of the mount: luaws.broadcast encodes v once and queues the
-- same prepared frame to everyone. Any other message is sent back to its
-- sender, as echo.lua does.
local M = {}

function M.message(conn, msg)
  if type(msg) == "table" and msg.broadcast ~= nil then
    luaws.broadcast(msg.broadcast, conn)
  else
    conn:send(msg)
  end
end

return M
