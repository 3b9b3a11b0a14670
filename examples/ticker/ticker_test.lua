-- ticker_test.lua: run it with  luaws test examples/ticker
local T = {}

function T.test_subscribe_and_tick(t)
  local srv = t.server("ticker.lua", { serializer = "json" })
  local c = srv:connect{}
  c:send({ type = "subscribe", topic = "prices" })
  t.eq(c:recv(), { type = "subscribed", topic = "prices" })
  local tick = c:recv()
  t.eq(tick.type, "tick")
  t.eq(tick.n, 1)
end

function T.test_unknown_topic(t)
  local c = t.server("ticker.lua", { serializer = "json" }):connect{}
  c:send({ type = "subscribe", topic = "weather" })
  t.eq(c:recv(), { type = "error", error = "no such topic: weather (try clock or prices)" })
end
return T
