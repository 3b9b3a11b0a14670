-- json_test.lua: luaws.json inside a server VM, run by TestLua.
local check = require "check"
local eq, raises = check.eq, check.raises
local json = luaws.json

local T = {}

function T.round_trips()
  for _, s in ipairs({
    'null', 'true', 'false', '0', '-1', '1.5', '9007199254740992', '-9007199254740992',
    '"héllo ✓ 😀"', '[]', '{}', '[[],{}]', '{"a":null}', '[1,null,3]',
    '{"nested":{"list":[1,{"x":[]}],"empty":{}}}', '"a\\"b\\\\c\\n"',
  }) do
    eq(json.encode(json.decode(s)), s, "round trip of " .. s)
  end
end

function T.null()
  eq(json.decode("null"), luaws.null, "null decodes to luaws.null")
  eq(json.null, luaws.null, "json.null is luaws.null")
  eq(tostring(luaws.null), "null", "tostring(luaws.null)")
  eq(json.decode('{"a":null}').a, luaws.null, "null kept in a table")
  eq(json.encode({ a = luaws.null }), '{"a":null}', "luaws.null encodes as null")
  eq(json.encode(nil), "null", "nil encodes as null")
end

function T.arrays_and_objects()
  eq(json.encode({}), "{}", "a plain empty table is an object")
  eq(json.encode(luaws.array()), "[]", "luaws.array() is an empty array")
  eq(json.encode(luaws.array({})), "[]", "luaws.array(t) marks t")
  eq(json.encode({ 1, 2, 3 }), "[1,2,3]", "a sequence is an array")
  eq(json.encode({ [1] = "a", [3] = "c" }), '{"1":"a","3":"c"}', "holes make an object")
  local decoded = json.decode("[]")
  decoded[1] = "x"
  eq(json.encode(decoded), '["x"]', "a decoded array stays an array")
  eq(json.encode(json.decode("[]")), "[]", "decoded [] encodes as []")
end

function T.numbers()
  eq(json.encode(2 ^ 53), "9007199254740992", "2^53 without exponent")
  eq(json.decode("9007199254740993"), 2 ^ 53, "past 2^53 rounds like a float64")
  eq(json.encode(0.1), "0.1", "shortest float")
  eq(json.encode(1e300), "1e+300", "big float")
  raises(function() json.encode(0 / 0) end, "NaN", "NaN")
  raises(function() json.encode(1 / 0) end, "Inf", "infinity") -- (gopher-lua's math.huge is the largest float64)
end

function T.strings()
  eq(json.decode('"\\u00e9\\ud83d\\ude00"'), "é😀", "escapes and surrogate pairs")
  eq(json.encode("\1"), '"\\u0001"', "control characters escaped")
  eq(json.encode("\255"), '"\\ufffd"', "invalid UTF-8 becomes U+FFFD")
end

function T.errors()
  raises(function() json.encode(print) end, "cannot encode a function", "function")
  local t = {}
  t.t = t
  raises(function() json.encode(t) end, "cyclic", "cyclic table")
  raises(function() json.encode({ [true] = 1 }) end, "boolean key", "boolean key")
  local v, err = json.decode("{")
  eq(v, nil, "decode error value")
  eq(type(err), "string", "decode error message")
  v, err = json.decode("[1,]")
  eq(v, nil, "trailing comma")
  raises(function() json.decode() end, "bad argument #1", "decode without argument")
end

function T.conn_send_encodes(conn)
  -- conn:send with the json serializer raises what json.encode raises.
  raises(function() conn:send(print) end, "send: cannot encode a function", "send function")
  eq(conn:send({ ok = true }), true, "send returns true")
end

return check.handler(T)
