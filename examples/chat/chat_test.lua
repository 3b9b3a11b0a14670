-- chat_test.lua: run it with  luaws test examples/chat
local T = {}

local function chat(t)
  return t.server("chat.lua", { serializer = "json", max_message_size = "16KiB" })
end

function T.test_welcome(t)
  local c = chat(t):connect{ query = { name = "ann" } }
  t.eq(c:recv(), { type = "welcome", id = 1, name = "ann", room = "lobby",
                   people = { { id = 1, name = "ann" } } })
end

function T.test_say_reaches_the_room(t)
  local srv = chat(t)
  local ann = srv:connect{ query = { name = "ann" } }
  ann:recv() -- welcome
  local bob = srv:connect{ query = { name = "bob" } }
  bob:recv() -- welcome
  t.eq(ann:recv(), { type = "joined", id = 2, name = "bob", room = "lobby" })
  bob:send({ type = "say", text = "hello" })
  local said = { type = "said", id = 2, from = "bob", room = "lobby", text = "hello" }
  t.eq(ann:recv(), said)
  t.eq(bob:recv(), said)
end

function T.test_bad_message(t)
  local c = chat(t):connect{}
  c:recv()
  c:send({ type = "shout" })
  t.eq(c:recv().type, "error")
end
return T
