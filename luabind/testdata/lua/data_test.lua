-- data_test.lua: what conn.data keeps and gives back, run by TestLua.
local check = require "check"
local eq, raises = check.eq, check.raises

local T = {}

function T.scalars(conn)
  conn.data.s, conn.data.n, conn.data.f, conn.data.t, conn.data.no = "x", 42, 1.5, true, false
  eq(conn.data.s, "x", "string")
  eq(conn.data.n, 42, "integer")
  eq(conn.data.f, 1.5, "float")
  eq(conn.data.t, true, "true")
  eq(conn.data.no, false, "false")
  eq(conn.data.big, nil, "missing key")
  conn.data.big = 2 ^ 53
  eq(conn.data.big, 9007199254740992, "2^53")
  eq(conn.data.big - 1, 9007199254740991, "2^53 - 1")
  conn.data.uni = "héllo ✓ 😀"
  eq(conn.data.uni, "héllo ✓ 😀", "unicode")
  conn.data.bytes = "\0\255"
  eq(conn.data.bytes, "\0\255", "bytes")
end

function T.nested_tables_are_copies(conn)
  local p = { name = "ann", tags = { "a", "b" }, inner = { deep = { 1, { x = 2 } } } }
  conn.data.profile = p
  p.name = "changed after storing"
  local got = conn.data.profile
  eq(got, { name = "ann", tags = { "a", "b" }, inner = { deep = { 1, { x = 2 } } } }, "stored copy")
  got.name = "bob"
  eq(conn.data.profile.name, "ann", "a read gives a copy")
  conn.data.profile = got
  eq(conn.data.profile.name, "bob", "assign again to change")
  eq(conn.data.profile.inner.deep[2].x, 2, "deep read")
end

function T.nil_deletes(conn)
  conn.data.gone = 1
  conn.data.gone = nil
  eq(conn.data.gone, nil, "deleted")
  for k in pairs(conn.data) do
    if k == "gone" then error("pairs still sees a deleted key") end
  end
end

function T.pairs_and_len(conn)
  for k in pairs(conn.data) do conn.data[k] = nil end
  eq(#conn.data, 0, "#conn.data when empty")
  conn.data.b, conn.data.a, conn.data.c = 2, 1, { 3 }
  local keys, vals = {}, {}
  for k, v in pairs(conn.data) do
    keys[#keys + 1] = k
    vals[k] = v
  end
  eq(keys, { "a", "b", "c" }, "pairs in key order")
  eq(vals, { a = 1, b = 2, c = { 3 } }, "pairs values")
  eq(#conn.data, 3, "#conn.data counts keys")
  -- Changing conn.data while iterating is safe: pairs walks a snapshot.
  for k in pairs(conn.data) do conn.data[k] = nil end
  eq(#conn.data, 0, "cleared while iterating")
end

function T.number_keys_are_strings(conn)
  conn.data[1] = "one"
  eq(conn.data["1"], "one", "conn.data[1] is conn.data['1']")
  eq(conn.data[1], "one", "read back with a number")
  conn.data[1] = nil
  raises(function() conn.data[true] = 1 end, "conn.data keys are strings", "boolean key")
  raises(function() return conn.data[{}] end, "conn.data keys are strings", "table key")
end

function T.arrays_and_objects_stay_apart(conn)
  conn.data.empty_array = luaws.array()
  conn.data.empty_object = {}
  conn.data.sparse = { [1] = "a", [3] = "c" }
  conn.data.mixed = { 1, 2, x = 3 }
  conn.data.with_null = { 1, luaws.null, 3 }
  eq(luaws.json.encode(conn.data.empty_array), "[]", "empty array")
  eq(luaws.json.encode(conn.data.empty_object), "{}", "empty object")
  eq(luaws.json.decode(luaws.json.encode(conn.data.sparse)), { ["1"] = "a", ["3"] = "c" }, "sparse table")
  eq(luaws.json.decode(luaws.json.encode(conn.data.mixed)), { ["1"] = 1, ["2"] = 2, x = 3 }, "mixed table")
  eq(luaws.json.encode(conn.data.with_null), "[1,null,3]", "null inside an array")
  eq(conn.data.with_null[2], luaws.null, "null reads back as luaws.null")
  conn.data.top_null = luaws.null
  eq(conn.data.top_null, nil, "luaws.null at the top deletes, like nil")
end

function T.what_cannot_be_stored(conn)
  raises(function() conn.data.fn = print end, "conn.data.fn: cannot store a function", "function")
  raises(function() conn.data.t = { f = print } end, "cannot store a function", "nested function")
  raises(function() conn.data.u = conn end, "cannot store a userdata", "userdata")
  local cyc = {}
  cyc.self = cyc
  raises(function() conn.data.c = cyc end, "cyclic", "cyclic table")
  raises(function() conn.data.k = { [true] = 1 } end, "boolean key", "boolean key inside")
  eq(conn.data.fn, nil, "nothing stored on error")
end

function T.same_data_through_luaws_get(conn)
  conn.data.shared = "yes"
  eq(luaws.get(conn.id).data.shared, "yes", "luaws.get(id).data")
  eq(luaws.connections()[conn.id].data.shared, "yes", "luaws.connections()[id].data")
end

function T.data_is_not_a_go_object(conn)
  eq(tostring(conn.data), "conn.data", "tostring")
  raises(function() return -conn.data end, "arithmetic on conn.data", "unary minus")
  raises(function() return conn.data ^ 2 end, "arithmetic on conn.data", "power")
end

function T.data_encodes_whole(conn)
  for k in pairs(conn.data) do conn.data[k] = nil end
  eq(luaws.json.encode(conn.data), "{}", "empty conn.data")
  conn.data.list = { 1, 2 }
  eq(luaws.json.encode(conn.data), '{"list":[1,2]}', "conn.data")
  raises(function() luaws.json.encode({ d = conn.data }) end, "cannot encode a userdata", "conn.data inside a table")
end

function T.handshake_values(conn)
  eq(conn.query.name, "ann", "query from the URL")
end

return check.handler(T)
