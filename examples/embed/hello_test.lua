-- luaws test examples/embed: the script alone, as luaws serve runs it.
local T = {}

function T.test_welcome_and_echo(t)
  local c = t.server("hello.lua", {serializer = "json"}):connect{}
  t.eq(c:recv(), {hello = "welcome", id = 1})
  c:send({text = "hi"})
  t.eq(c:recv(), {echo = {text = "hi"}, from = 1})
end

return T
