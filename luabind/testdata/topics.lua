-- A script for the topic tests: clients send commands as text.
--   sub T / unsub T     conn:subscribe / conn:unsubscribe, answered "ok ..."
--   pub T text          luaws.publish(T, text), answered "published N" (N local)
--   all text            luaws.broadcast(text, conn): everyone else
-- When a connection closes, its close handler checks that it can no longer
-- subscribe and tells the "closes" topic.
local M = {}

function M.message(conn, msg)
  local cmd, rest = msg:match("^(%S+)%s*(.*)$")
  if cmd == "sub" then
    assert(conn:subscribe(rest) == true)
    conn:send("ok sub " .. rest)
  elseif cmd == "unsub" then
    conn:send("ok unsub " .. rest .. " " .. tostring(conn:unsubscribe(rest)))
  elseif cmd == "pub" then
    local topic, text = rest:match("^(%S+)%s(.*)$")
    luaws.publish(topic, text)
  elseif cmd == "pubn" then
    local topic, text = rest:match("^(%S+)%s(.*)$")
    conn:send("published " .. luaws.publish(topic, text))
  elseif cmd == "all" then
    luaws.broadcast(rest, conn)
  else
    error("unknown command " .. tostring(cmd))
  end
end

function M.close(conn)
  local ok, err = conn:subscribe("late")
  luaws.publish("closes", "closed " .. conn.id .. " " .. tostring(ok) .. " " .. tostring(err))
end

return M
