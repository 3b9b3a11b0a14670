-- auth_test.lua: run it with  luaws test examples/auth
local T = {}

local function auth(t)
  return t.server("auth.lua", { serializer = "json" })
end

function T.test_no_token_is_refused(t)
  local c, status, body = auth(t):connect{}
  t.eq(c, nil)
  t.eq(status, 401)
  t.ok(body:find("missing token"), body)
end

function T.test_bearer_token(t)
  local c = auth(t):connect{ headers = { Authorization = "Bearer s3cret-ann" } }
  t.eq(c:recv(), { type = "hello", user = "ann", role = "admin" })
end

function T.test_query_token(t)
  local c = auth(t):connect{ query = { token = "s3cret-bob" } }
  t.eq(c:recv(), { type = "hello", user = "bob", role = "member" })
end
return T
