-- echo_test.lua: run it with  luaws test examples/echo
local T = {}

function T.test_text_comes_back(t)
  local srv = t.server("echo.lua")
  local c = srv:connect{}
  c:send("hello")
  t.eq(c:recv(), "hello")
end

function T.test_binary_comes_back_binary(t)
  local srv = t.server("echo.lua")
  local c = srv:connect{}
  c:send_binary("\0\1\2")
  local msg, kind = c:recv()
  t.eq(msg, "\0\1\2")
  t.eq(kind, "binary")
end

function T.test_ids_start_at_one_per_test(t)
  local srv = t.server("echo.lua")
  srv:connect{}
  srv:connect{}
  t.eq(srv:connections(), { 1, 2 })
end

function T.test_close(t)
  local srv = t.server("echo.lua")
  local c = srv:connect{}
  c:close(1000, "bye")
  local msg, err = c:recv()
  t.eq(msg, nil)
  t.eq(err, "closed")
end

return T
