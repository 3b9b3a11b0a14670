-- ticker.lua: updates the server pushes on a timer to the clients that
-- subscribed to them. Each feed is a topic; a timer publishes one tick to
-- it, encoded once for every subscriber. Run it with:
--
--   luaws serve --serializer json examples/ticker/ticker.lua
--
--   client → {"type":"subscribe","topic":"clock"}     server → {"type":"subscribed","topic":"clock"}
--   client → {"type":"unsubscribe","topic":"clock"}   server → {"type":"unsubscribed","topic":"clock"}
--   server → {"type":"tick","topic":"clock","n":17,"time":1767225600}           every second
--   server → {"type":"tick","topic":"prices","n":4,"prices":{"LUA":101.25,...}}  every 0.25 s
--   server → {"type":"error","error":"..."}
--
-- The timers run on the script's worker: use one worker (the default), or
-- each worker would publish its own ticks.
local M = {}

local prices = { LUA = 100, GO = 100, WS = 100 }

-- feeds: topic → how often it ticks (seconds) and what a tick carries.
local feeds = {
  clock = {
    every = 1,
    tick = function() return { time = os.time() } end,
  },
  prices = {
    every = 0.25,
    tick = function()
      for name, p in pairs(prices) do
        -- A random walk, in cents.
        prices[name] = math.max(1, math.floor(p * 100 + math.random(-50, 50) + 0.5) / 100)
      end
      return { prices = prices }
    end,
  },
}

-- start starts one timer per feed, once per load of the script. After a
-- hot reload the old timers are gone and this runs again from reload.
local started = false
local function start()
  if started then return end
  started = true
  for topic, feed in pairs(feeds) do
    luaws.every(feed.every, function()
      local msg = feed.tick()
      msg.type = "tick"
      msg.topic = topic
      -- The count lives in luaws.shared, so it goes on across reloads.
      msg.n = luaws.shared:incr("ticker:" .. topic)
      luaws.publish(topic, msg)
    end)
  end
end

function M.open(conn)
  start()
end

function M.reload(conn)
  start()
end

function M.message(conn, msg)
  if type(msg) ~= "table" or type(msg.topic) ~= "string" then
    return conn:send({ type = "error", error = "send {\"type\":\"subscribe\",\"topic\":\"clock\"}" })
  end
  if feeds[msg.topic] == nil then
    return conn:send({ type = "error", error = "no such topic: " .. msg.topic .. " (try clock or prices)" })
  end
  if msg.type == "subscribe" then
    conn:subscribe(msg.topic)
    conn:send({ type = "subscribed", topic = msg.topic })
  elseif msg.type == "unsubscribe" then
    conn:unsubscribe(msg.topic)
    conn:send({ type = "unsubscribed", topic = msg.topic })
  else
    conn:send({ type = "error", error = "unknown message type" })
  end
end

return M
