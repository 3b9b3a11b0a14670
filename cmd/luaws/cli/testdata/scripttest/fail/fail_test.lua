local T = {}

function T.test_diff(t)
  local srv = t.server("json.lua", { serializer = "json" })
  local c = srv:connect{}
  c:send({ n = 1 })
  t.eq(c:recv(), { n = 2, list = {}, none = luaws.null }, "the reply")
end

function T.test_passes(t)
  local srv = t.server("json.lua", { serializer = "json" })
  local c = srv:connect{}
  c:send({ n = 1 })
  t.eq(c:recv(), { n = 1, list = luaws.array({}), none = luaws.null })
  t.log_contains("got 1")
end

function T.test_error(t)
  local x = nil
  return x.field
end

function T.test_broken_script(t)
  t.server("broken.lua")
end

function T.test_bad_opts(t)
  t.server("json.lua", { workers = 0 })
end

function T.test_hangs(t)
  while true do end
end

function T.test_closed_recv(t)
  local srv = t.server("json.lua", { serializer = "json" })
  local c = srv:connect{}
  srv:close()
  local v, err = c:recv()
  t.eq({ v, err }, { nil, "closed" })
  t.ok(c:closed())
  t.ok(false, "last")
end

return T
