-- The bounded builtins of luabind/limits.go, run by TestLimits with
-- MaxStringSize = 1 MiB. Expected values are Lua 5.1's.
local function eq(got, want, what)
  if got ~= want then
    error(string.format("%s: got %q, want %q", what, tostring(got), tostring(want)), 2)
  end
end
local function raises(f, want, what)
  local ok, e = pcall(f)
  if ok then error(what .. ": did not raise", 2) end
  if not tostring(e):find(want, 1, true) then
    error(what .. ": got error " .. tostring(e) .. ", want one with " .. want, 2)
  end
end
local MiB = 1024 * 1024

-- string.rep
eq(string.rep("ab", 3), "ababab", "rep")
eq(("x"):rep(0), "", "rep 0")
eq(("x"):rep(-1), "", "rep negative")
eq(#string.rep("x", MiB), MiB, "rep at the limit")
raises(function() string.rep("x", MiB + 1) end, "string.rep: result too large", "rep over")
raises(function() ("xy"):rep(1e15) end, "result too large", "rep method, huge")

-- string.format
eq(string.format("%5.2f|%-3d|%s|%%", 3.14159, 7, "s"), " 3.14|7  |s|%", "format")
eq(string.format("%02x", 255), "ff", "format hex")
raises(function() string.format("%999d", 1) end, "invalid format", "format wide")
raises(function() string.format("%.100f", 1) end, "invalid format", "format precise")
local big = string.rep("x", MiB / 2)
eq(#string.format("%s", big), MiB / 2, "format a big string")
raises(function() string.format("%s%s%s", big, big, big) end, "string.format: result too large", "format over")

-- string.gsub: Lua 5.1 results, in linear time
local gsub = string.gsub
local function g(...) local s, n = gsub(...) return s .. "|" .. n end
eq(g("hello world", "o", "0"), "hell0 w0rld|2", "gsub plain")
eq(g("hello world", "o", "0", 1), "hell0 world|1", "gsub limit")
eq(g("hello", "", "-"), "-h-e-l-l-o-|6", "gsub empty match")
eq(g("abc", "%w", "%0%0"), "aabbcc|3", "gsub %0")
eq(g("hello world", "(%w+)", "<%1>"), "<hello> <world>|2", "gsub capture")
eq(g("hello world", "%w+", "<%1>"), "<hello> <world>|2", "gsub %1 without captures")
eq(g("a=1, b=2", "(%w+)=(%w+)", "%2=%1"), "1=a, 2=b|2", "gsub swap")
eq(g("50%", "%%", "%%%%"), "50%%|1", "gsub escaped percent")
eq(g("abc", "b", "%x"), "axc|1", "gsub %x is x")
eq(g("abc", "()b()", "%1%2"), "a23c|1", "gsub position captures")
eq(g("hello", "^h", "H"), "Hello|1", "gsub anchored")
eq(g("hhh", "^h", "H"), "Hhh|1", "gsub anchored once")
eq(g("$name is $age", "%$(%w+)", { name = "ann", age = 3 }), "ann is 3|2", "gsub table")
eq(g("$x $y", "%$(%w+)", { x = false }), "$x $y|2", "gsub table false keeps")
eq(g("abc", "%w", function(c) return c:upper() .. "." end), "A.B.C.|3", "gsub function")
eq(g("abc", "%w", function(c) if c == "b" then return nil end return 1 end), "1b1|3", "gsub function nil keeps")
eq(g("x", "x", 5), "5|1", "gsub number repl")
eq(g("abc", "z", "y"), "abc|0", "gsub no match")
raises(function() gsub("abc", "(%w)", "%2") end, "invalid capture index", "gsub bad capture")
raises(function() gsub("abc", "%w", function() return {} end) end, "invalid replacement value (a table)", "gsub table value")
raises(function() gsub("abc", "(", "x") end, "", "gsub bad pattern")
raises(function() gsub("abc", "a", true) end, "bad argument #3", "gsub boolean repl")
-- many matches: quadratic in gopher-lua, linear here
local long = string.rep("a", 200000)
local s, n = long:gsub("a", "b")
eq(n, 200000, "gsub many matches")
eq(s, string.rep("b", 200000), "gsub many matches result")
local s2, n2 = long:gsub("a", "bb", 1000)
eq(n2, 1000, "gsub many matches, limited")
eq(#s2, 201000, "gsub limited length")
raises(function() string.rep("a", 1000):gsub("a", string.rep("b", 2000)) end, "string.gsub: result too large", "gsub over")

-- table.concat
eq(table.concat({ 1, "a", 2.5 }, ","), "1,a,2.5", "concat")
eq(table.concat({ "a", "b", "c" }, "", 2), "bc", "concat from")
eq(table.concat({ "a", "b", "c" }, "-", 2, 3), "b-c", "concat range")
eq(table.concat({}, ","), "", "concat empty")
raises(function() table.concat({ "a", {} }) end, "invalid value (table) at index 2", "concat table element")
local pieces = {}
for i = 1, 300000 do pieces[i] = "x" end -- more pieces than the value stack holds
eq(#table.concat(pieces), 300000, "concat many pieces")
local refs = {}
for i = 1, 3 do refs[i] = big end
raises(function() table.concat(refs) end, "table.concat: result too large", "concat over")

-- luaws.json.encode
local jt = {}
for i = 1, 3 do jt[i] = big end
raises(function() luaws.json.encode(jt) end, "result too large", "json over")
eq(luaws.json.encode({ big }):len(), MiB / 2 + 4, "json under")

-- coroutines
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  return c * 2
end)
local ok, v = coroutine.resume(co, 1, 2)
eq(ok, true, "resume")
eq(v, 3, "yield value")
ok, v = coroutine.resume(co, 5)
eq(v, 10, "return value")
eq(coroutine.status(co), "dead", "status")
ok, v = coroutine.resume(co)
eq(ok, false, "resume dead")
local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
eq(gen() + gen() + gen(), 6, "wrap")
local bad = coroutine.wrap(function() error({ code = 7 }) end)
local ok2, e2 = pcall(bad)
eq(ok2, false, "wrap error")
eq(type(e2) == "table" and e2.code, 7, "wrap error value is kept")
local depth = 0
local function nest()
  depth = depth + 1
  local ok, err = coroutine.resume(coroutine.create(nest))
  if not ok then error(err, 0) end
end
raises(nest, "coroutines nested too deep", "nesting")
eq(depth, 101, "nesting depth")

-- os.exit
raises(function() os.exit(1) end, "os.exit is disabled", "os.exit")

-- table.sort (stoppable; same results as gopher-lua's)
local st = { 5, 3, 9, 1, 7 }
table.sort(st)
eq(table.concat(st, ","), "1,3,5,7,9", "sort")
table.sort(st, function(a, b) return a > b end)
eq(table.concat(st, ","), "9,7,5,3,1", "sort comparator")
local ss = { "b", "c", "a" }
table.sort(ss)
eq(table.concat(ss), "abc", "sort strings")
raises(function() table.sort({ 1, "a", 2 }) end, "attempt to compare", "sort mixed")
local sbig = {}
for i = 1, 5000 do sbig[i] = (i * 7919) % 5003 end
table.sort(sbig)
for i = 2, #sbig do if sbig[i - 1] > sbig[i] then error("sort big: out of order at " .. i) end end
