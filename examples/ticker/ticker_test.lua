-- ticker_test.lua: run it with  luaws test examples/ticker
-- The server's timers follow a virtual clock: srv:advance(sec) fires
-- them in order, at once.
local T = {}

local function ticker(t)
  return t.server("ticker.lua", { serializer = "json" })
end

function T.test_subscribe_and_tick(t)
  local srv = ticker(t)
  local c = srv:connect{}
  c:send({ type = "subscribe", topic = "prices" })
  t.eq(c:recv(), { type = "subscribed", topic = "prices" })
  srv:advance(0.25)
  local tick = c:recv()
  t.eq({ tick.type, tick.topic, tick.n }, { "tick", "prices", 1 })
end

function T.test_an_hour_of_clock_ticks(t)
  local srv = ticker(t)
  local c = srv:connect{}
  c:send({ type = "subscribe", topic = "clock" })
  t.eq(c:recv(), { type = "subscribed", topic = "clock" })
  srv:advance(3600) -- every(1) 3,600 times, every(0.25) 14,400 times
  t.eq(srv:shared():get("ticker:clock"), 3600)
  t.eq(srv:shared():get("ticker:prices"), 14400)
  local n = 0
  for i = 1, 3600 do
    local tick = c:recv()
    t.eq(tick.n, i)
    n = n + 1
  end
  t.eq(n, 3600)
  t.eq(c:recv(0.05), nil, "no tick without advance")
end

function T.test_time_stands_still(t)
  local srv = ticker(t)
  local c = srv:connect{}
  c:send({ type = "subscribe", topic = "prices" })
  c:recv()
  local msg, err = c:recv(0.5)
  t.eq({ msg, err }, { nil, "timeout" })
end

function T.test_real_time(t)
  local srv = t.server("ticker.lua", { serializer = "json", real_time = true })
  local c = srv:connect{}
  c:send({ type = "subscribe", topic = "prices" })
  c:recv()
  t.eq(c:recv().type, "tick")
end

function T.test_unknown_topic(t)
  local c = ticker(t):connect{}
  c:send({ type = "subscribe", topic = "weather" })
  t.eq(c:recv(), { type = "error", error = "no such topic: weather (try clock or prices)" })
end
return T
