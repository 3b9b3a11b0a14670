-- module_test.lua: the luaws global, run by TestLua.
local check = require "check"
local eq, raises = check.eq, check.raises

local T = {}

function T.members()
  for _, name in ipairs({ "connections", "get", "broadcast", "array" }) do
    eq(type(luaws[name]), "function", "luaws." .. name)
  end
  for _, name in ipairs({ "debug", "info", "warn", "error" }) do
    eq(type(luaws.log[name]), "function", "luaws.log." .. name)
  end
  eq(type(luaws.json.encode), "function", "luaws.json.encode")
  eq(type(luaws.json.decode), "function", "luaws.json.decode")
  eq(type(luaws.null), "userdata", "luaws.null")
end

function T.connections(conn)
  local n = 0
  for id, c in pairs(luaws.connections()) do
    n = n + 1
    eq(id, c.id, "key is the id")
  end
  eq(n, 1, "one connection")
  eq(luaws.get(conn.id).id, conn.id, "get")
  eq(luaws.get(12345), nil, "get of an unknown id")
  raises(function() luaws.get("one") end, "bad argument #1", "get with a string")
end

function T.broadcast(conn)
  eq(luaws.broadcast("to all"), 1, "broadcast count")
  eq(luaws.broadcast("to all but me", conn), 0, "except a conn")
  eq(luaws.broadcast("to all but me", conn.id), 0, "except an id")
  eq(luaws.broadcast("to all but 99", 99), 1, "except an unknown id")
  raises(function() luaws.broadcast(print) end, "broadcast: cannot encode a function", "unencodable")
  raises(function() luaws.broadcast("x", "someone") end, "conn or id expected", "bad except")
end

function T.log()
  -- Odd arguments do not raise: a missing value is nil, a bad key !BADKEY.
  luaws.log.info("from module_test", "k", "v", "n", 3, "t", { a = 1 }, "odd")
  luaws.log.debug("debug line")
  luaws.log.warn("warn line", 1, 2)
  luaws.log.error("error line", "f", print)
  raises(function() luaws.log.info() end, "bad argument #1", "no message")
end

function T.require()
  local check2 = require "check"
  eq(check2 == check, true, "require caches modules")
  local ok, err = pcall(require, "no_such_module")
  eq(ok, false, "require of a missing module fails")
  eq(err:find("no_such_module", 1, true) ~= nil, true, "the error names the module")
end

return check.handler(T)
