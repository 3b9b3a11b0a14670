-- conn_test.lua: the conn object from Lua, run by TestLua.
local check = require "check"
local eq, raises = check.eq, check.raises

local T = {}

function T.fields(conn)
  eq(conn.id, 1, "id")
  eq(type(conn.id), "number", "id type")
  eq(conn.path, "/ws", "path")
  eq(conn.query.name, "ann", "query")
  eq(type(conn.headers["User-Agent"]), "string", "headers, canonical names")
  eq(conn.remote_addr:match("^127%.0%.0%.1:%d+$") ~= nil, true, "remote_addr")
  eq(conn.subprotocol, "", "no subprotocol")
  eq(type(conn.data), "userdata", "data")
  eq(tostring(conn), "conn 1", "tostring")
end

function T.only_snake_case_names(conn)
  eq(conn.Send, nil, "Go name Send")
  eq(conn.SendBinary, nil, "Go name SendBinary")
  eq(conn.RemoteAddr, nil, "Go name RemoteAddr")
  eq(conn.ID, nil, "Go name ID")
  eq(conn.c, nil, "internal field")
end

function T.read_only(conn)
  raises(function() conn.id = 3 end, "conn.id is read-only", "id")
  raises(function() conn.data = 5 end, "conn.data = number: want a table", "data replaced by a number")
  raises(function() conn.mine = 1 end, "conn.mine is read-only (store your own values in conn.data)", "new field")
  raises(function() return -conn end, "arithmetic on conn", "unary minus")
  eq(conn.id, 1, "id unchanged")
end

function T.methods(conn)
  eq(conn:send("text"), true, "send")
  eq(conn:send_binary("\0\1"), true, "send_binary")
  eq(conn:ping(), true, "ping without payload")
  eq(conn:ping("x"), true, "ping")
  raises(function() conn:close(999) end, "close code must be 1000-4999", "close with a bad code")
  raises(function() conn:close(1006) end, "not 1005, 1006 or 1015", "close with a reserved code")
  raises(function() conn:send_binary() end, "bad argument #1 to send_binary", "send_binary without argument")
  raises(function() conn:send() end, "bad argument #1 to send", "send without argument")
  raises(function() conn.send("x") end, "", "send called with . instead of :")
end

function T.identity(conn)
  eq(luaws.get(conn.id) == conn, true, "luaws.get gives the same object on the conn's worker")
  eq(luaws.connections()[conn.id] == conn, true, "so does luaws.connections")
end

return check.handler(T)
