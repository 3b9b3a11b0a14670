-- chat.lua: a JSON chat room. Every client is in one room; names live in
-- conn.data, so they survive a hot reload.
--
--   client → {"type":"name","name":"ann"}      pick a name
--   client → {"type":"say","text":"hello"}     say something to everyone
--   server → {"type":"welcome","id":1,"name":"guest1","people":[...]}
--   server → {"type":"joined"|"left"|"renamed"|"said", ...}
--   server → {"type":"error","error":"..."}
local M = {}

local function people()
  local list = luaws.array()
  for id, c in pairs(luaws.connections()) do
    list[#list + 1] = { id = id, name = c.data.name }
  end
  table.sort(list, function(a, b) return a.id < b.id end)
  return list
end

function M.open(conn, req)
  local name = req.query.name
  if name == nil or name == "" then name = "guest" .. conn.id end
  conn.data.name = name
  -- Tell the others first: whoever connects after this welcome was sent
  -- must not hear that this one joined.
  luaws.broadcast({ type = "joined", id = conn.id, name = name }, conn)
  conn:send({ type = "welcome", id = conn.id, name = name, people = people() })
end

function M.message(conn, msg)
  if type(msg) ~= "table" then
    return conn:send({ type = "error", error = "send a JSON object" })
  end
  if msg.type == "name" and type(msg.name) == "string" and msg.name ~= "" then
    local old = conn.data.name
    conn.data.name = msg.name
    luaws.broadcast({ type = "renamed", id = conn.id, from = old, name = msg.name })
  elseif msg.type == "say" and type(msg.text) == "string" then
    luaws.broadcast({ type = "said", id = conn.id, from = conn.data.name, text = msg.text })
  else
    conn:send({ type = "error", error = "unknown message type" })
  end
end

function M.malformed_message(conn, raw, err)
  conn:send({ type = "error", error = "bad JSON: " .. err })
end

function M.close(conn, code, reason)
  luaws.broadcast({ type = "left", id = conn.id, name = conn.data.name })
end

return M
