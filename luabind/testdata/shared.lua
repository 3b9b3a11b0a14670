-- luaws.shared, run by TestSharedAPI with a fresh store.
local function eq(got, want, what)
  if got ~= want then
    error(string.format("%s: got %s, want %s", what, tostring(got), tostring(want)), 2)
  end
end
local s = luaws.shared

eq(s:get("missing"), nil, "get missing")
eq(s:set("a", "x"), true, "set")
eq(s:get("a"), "x", "get")
s:delete("a")
eq(s:get("a"), nil, "get deleted")

-- numbers, booleans and tables round-trip; tables are copies.
s:set("n", 1.5)
eq(s:get("n"), 1.5, "number")
s:set("b", false)
eq(s:get("b"), false, "false")
local t = { name = "ann", list = { 1, 2, 3 }, nested = { deep = { x = true } } }
s:set("t", t)
t.name = "changed"
local got = s:get("t")
eq(got.name, "ann", "stored table is a copy")
eq(#got.list, 3, "list length")
eq(got.nested.deep.x, true, "nested")
got.name = "mine"
eq(s:get("t").name, "ann", "read table is a copy")
eq(luaws.json.encode(s:get("t").list), "[1,2,3]", "list stays a list")
s:set("empty", luaws.array())
eq(luaws.json.encode(s:get("empty")), "[]", "empty array stays an array")

-- number keys are strings.
s:set(7, "seven")
eq(s:get("7"), "seven", "number key")

-- set nil deletes.
s:set("t", nil)
eq(s:get("t"), nil, "set nil")

-- incr
eq(s:incr("c"), 1, "incr missing")
eq(s:incr("c", 10), 11, "incr by")
eq(s:incr("c", -0.5), 10.5, "incr by negative")
s:set("str", "x")
local v, err = s:incr("str")
eq(v, nil, "incr a string")
eq(err, "not a number", "incr a string error")
eq(s:get("str"), "x", "incr a string leaves it")

-- ttl: 0 is no expiry; an expired key is gone (checked with a tiny ttl).
s:set("forever", 1, 0)
eq(s:get("forever"), 1, "ttl 0")
s:set("brief", 1, 0.000001)
local deadline = os.clock() + 1
while s:get("brief") ~= nil and os.clock() < deadline do end
eq(s:get("brief"), nil, "expired")

-- misuse raises
local function raises(f, want, what)
  local ok, e = pcall(f)
  eq(ok, false, what .. " raises")
  if not tostring(e):find(want, 1, true) then
    error(what .. ": got error " .. tostring(e) .. ", want one with " .. want, 2)
  end
end
raises(function() s.get("k") end, "with a colon", "dot call")
raises(function() s:set({}, 1) end, "key must be a string", "table key")
raises(function() s:set("f", print) end, "cannot store a function", "function value")
raises(function() s:set("k", 1, -1) end, "ttl", "negative ttl")
local cyc = {}
cyc.self = cyc
raises(function() s:set("k", cyc) end, "cyclic", "cyclic table")
eq(tostring(s), "luaws.shared", "tostring")
