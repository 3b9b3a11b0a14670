-- rpc_test.lua: run it with  luaws test examples/rpc
local T = {}

local function rpc(t)
  return t.server("rpc.lua", { serializer = "json" })
end

function T.test_add(t)
  local c = rpc(t):connect{}
  c:send({ id = 1, method = "add", params = { 1, 2 } })
  t.eq(c:recv(), { id = 1, result = 3 })
end

function T.test_unknown_method(t)
  local c = rpc(t):connect{}
  c:send({ id = 2, method = "nope" })
  t.eq(c:recv(), { id = 2, error = { code = -32601, message = "method not found: nope" } })
end
return T
