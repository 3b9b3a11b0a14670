-- chat.lua: a JSON chat with rooms and presence, the script behind the
-- page in public/. Names and rooms live in conn.data, so they survive a
-- hot reload. Run it with the page:
--
--   luaws serve --config examples/chat/luaws.toml
--
-- A client connects to /ws?name=ann&room=lobby (both optional: a guest
-- name and the lobby by default). Everything after that is JSON objects:
--
--   client → {"type":"name","name":"ann"}       pick another name
--   client → {"type":"join","room":"games"}     move to another room
--   client → {"type":"say","text":"hello"}      say something to the room
--
--   server → {"type":"welcome","id":1,"name":"ann","room":"lobby","people":[{"id":1,"name":"ann"}]}
--   server → {"type":"presence","room":"games","people":[...]}   after a join: who is there
--   server → {"type":"joined","id":2,"name":"bob","room":"lobby"} to the others in the room
--   server → {"type":"left","id":2,"name":"bob","room":"lobby"}
--   server → {"type":"renamed","id":2,"from":"bob","name":"rob","room":"lobby"}
--   server → {"type":"said","id":1,"from":"ann","room":"lobby","text":"hello"}  to everyone in the room, sender too
--   server → {"type":"error","error":"..."}     to the sender of a bad message
--   server → {"type":"notice","text":"..."}     news from the server, e.g. after a hot reload
local rooms = require("rooms")

local M = {}

local LOBBY = "lobby"
local MAX_NAME = 24  -- characters, after trimming
local MAX_TEXT = 2000

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- utf8len counts characters, not bytes (Lua 5.1 has no utf8 library).
local function utf8len(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

-- cleanName returns a usable name from s, or nil and why not.
local function cleanName(s)
  if type(s) ~= "string" then return nil, "name must be a string" end
  s = trim(s)
  if s == "" then return nil, "name is empty" end
  if utf8len(s) > MAX_NAME then return nil, "name is longer than " .. MAX_NAME .. " characters" end
  return s
end

-- cleanRoom returns a room name (lower case letters, digits, - and _), or
-- nil and why not.
local function cleanRoom(s)
  if type(s) ~= "string" then return nil, "room must be a string" end
  s = trim(s):lower()
  if not s:match("^[%w_-]+$") or #s > 32 then
    return nil, "room names are 1 to 32 letters, digits, - or _"
  end
  return s
end

function M.open(conn, req)
  local name = cleanName(req.query.name) or ("guest" .. conn.id)
  local room = cleanRoom(req.query.room) or LOBBY
  conn.data.name = name
  rooms.send(room, { type = "joined", id = conn.id, name = name, room = room })
  rooms.enter(conn, room)
  conn:send({ type = "welcome", id = conn.id, name = name, room = room, people = rooms.members(room) })
end

local handlers = {}

function handlers.name(conn, msg)
  local name, err = cleanName(msg.name)
  if not name then return conn:send({ type = "error", error = err }) end
  local old = conn.data.name
  if name == old then return end
  conn.data.name = name
  rooms.send(conn.data.room, { type = "renamed", id = conn.id, from = old, name = name, room = conn.data.room })
end

function handlers.join(conn, msg)
  local room, err = cleanRoom(msg.room)
  if not room then return conn:send({ type = "error", error = err }) end
  if room ~= conn.data.room then
    local old = rooms.leave(conn)
    if old then rooms.send(old, { type = "left", id = conn.id, name = conn.data.name, room = old }) end
    rooms.send(room, { type = "joined", id = conn.id, name = conn.data.name, room = room })
    rooms.enter(conn, room)
  end
  conn:send({ type = "presence", room = room, people = rooms.members(room) })
end

function handlers.say(conn, msg)
  if type(msg.text) ~= "string" then return conn:send({ type = "error", error = "say needs a text string" }) end
  local text = trim(msg.text)
  if text == "" then return end
  if utf8len(text) > MAX_TEXT then
    return conn:send({ type = "error", error = "message is longer than " .. MAX_TEXT .. " characters" })
  end
  local room = conn.data.room
  rooms.send(room, { type = "said", id = conn.id, from = conn.data.name, room = room, text = text })
end

function M.message(conn, msg)
  if type(msg) ~= "table" or msg[1] ~= nil then
    return conn:send({ type = "error", error = "send a JSON object" })
  end
  local handle = handlers[msg.type]
  if handle == nil then
    return conn:send({ type = "error", error = "unknown message type" })
  end
  handle(conn, msg)
end

function M.malformed_message(conn, raw, err)
  conn:send({ type = "error", error = "bad JSON: " .. err })
end

-- reload runs for each open connection after a hot reload: the page
-- stays connected and says so.
function M.reload(conn)
  conn:send({ type = "notice", text = "the chat script was reloaded" })
end

-- close runs once the connection is gone from luaws.connections() (and
-- from its topics), so the leaver gets no "left" of its own.
function M.close(conn, code, reason)
  local room = conn.data.room
  if room then rooms.send(room, { type = "left", id = conn.id, name = conn.data.name, room = room }) end
end

return M
