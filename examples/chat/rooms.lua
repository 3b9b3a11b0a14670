-- rooms.lua: who is in which room, and sending to everyone in a room.
--
-- A connection's room is conn.data.room, so it survives a hot reload and
-- any worker can read it. Where luaws has topics (conn:subscribe and
-- luaws.publish), each room is the topic "room:NAME" and a message to a
-- room is encoded once for all its members, on every node sharing the
-- broker; otherwise a message to a room goes to each connection whose
-- conn.data.room matches. chat.lua sees no difference.
local rooms = {}

local topics = luaws.publish ~= nil

local function topic(room) return "room:" .. room end

-- rooms.members(room) is the list of {id, name} in room, by id.
function rooms.members(room)
  local list = luaws.array()
  for id, c in pairs(luaws.connections()) do
    if c.data.room == room then
      list[#list + 1] = { id = id, name = c.data.name }
    end
  end
  table.sort(list, function(a, b) return a.id < b.id end)
  return list
end

-- rooms.send(room, msg) sends msg to every connection in room.
function rooms.send(room, msg)
  if topics then
    luaws.publish(topic(room), msg)
    return
  end
  for _, c in pairs(luaws.connections()) do
    if c.data.room == room then c:send(msg) end
  end
end

-- rooms.enter(conn, room) puts conn in room. Call rooms.send for the
-- room's "joined" notice first, so the newcomer does not get its own.
function rooms.enter(conn, room)
  conn.data.room = room
  if topics then conn:subscribe(topic(room)) end
end

-- rooms.leave(conn) takes conn out of its room and returns the room's name.
-- Call rooms.send for the "left" notice after, so the leaver does not get it.
function rooms.leave(conn)
  local room = conn.data.room
  if room ~= nil and topics then conn:unsubscribe(topic(room)) end
  conn.data.room = nil
  return room
end

return rooms
