-- Asserts over the luaws.json module, run by TestLuaFile with the global
-- json set to the module. Each block is one rule of the package contract.

local function roundtrip(s) return json.encode(json.decode(s)) end

local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error matching " .. pattern)
  assert(string.find(err, pattern, 1, true), err)
end

-- null: a sentinel that survives inside tables
assert(json.decode("null") == json.null)
assert(json.decode("null") ~= nil)
assert(tostring(json.null) == "null")
local t = json.decode('{"a":null,"b":[null,null]}')
assert(t.a == json.null)
assert(#t.b == 2 and t.b[1] == json.null and t.b[2] == json.null)
assert(json.encode(t) == '{"a":null,"b":[null,null]}')
assert(json.encode(nil) == "null")
assert(json.encode(json.null) == "null")
assert(json.encode({json.null}) == "[null]")

-- empty array vs empty object
assert(roundtrip("[]") == "[]")
assert(roundtrip("{}") == "{}")
assert(roundtrip('{"a":[],"b":{}}') == '{"a":[],"b":{}}')
assert(roundtrip('[[],{},[[]],[{}]]') == '[[],{},[[]],[{}]]')
assert(json.encode({}) == "{}")
assert(json.encode(json.array()) == "[]")
assert(json.encode(json.array({})) == "[]")
assert(json.encode({list = json.array()}) == '{"list":[]}')
local arr = json.decode("[]")
arr[#arr + 1] = "x"
assert(json.encode(arr) == '["x"]')
table.remove(arr)
assert(json.encode(arr) == "[]")
local obj = json.decode("{}")
obj.k = 1
assert(json.encode(obj) == '{"k":1}')

-- sequences are arrays, everything else an object
assert(json.encode({1, 2, 3}) == "[1,2,3]")
assert(json.encode({"a", {"b"}}) == '["a",["b"]]')
assert(json.encode({a = 1}) == '{"a":1}')
assert(json.encode({[1] = "x", [3] = "z"}) == '{"1":"x","3":"z"}')
assert(json.encode({[10] = true}) == '{"10":true}')
assert(json.encode({1, n = 1}) == '{"1":1,"n":1}')
raises("cannot encode a boolean key", json.encode, {[false] = 1})
raises("array has non-integer key", json.encode, json.array({1, x = 2}))

-- insertion order of object members
local o = {}
o.zeta = 1
o.alpha = 2
o.mid = 3
assert(json.encode(o) == '{"zeta":1,"alpha":2,"mid":3}')
assert(roundtrip('{"z":1,"a":2,"m":3}') == '{"z":1,"a":2,"m":3}')

-- numbers
assert(json.encode(2^53) == "9007199254740992")
assert(roundtrip("9007199254740992") == "9007199254740992")
assert(json.decode("9007199254740993") == 2^53)
assert(json.encode(-123) == "-123")
assert(json.encode(0.5) == "0.5")
assert(json.encode(1e300) == "1e+300")
assert(json.encode(123456.789) == "123456.789")
assert(json.decode("1.25e2") == 125)
assert(json.decode("-0.5") == -0.5)
assert(type(json.decode("7")) == "number")
raises("cannot encode NaN", json.encode, 0/0)
raises("cannot encode +Inf", json.encode, 1/0)
raises("cannot encode -Inf", json.encode, {-1/0})
local v, err = json.decode("1e999")
assert(v == nil and err == "number 1e999 out of range at offset 0", err)

-- strings
assert(json.encode("a\"b\\c") == [["a\"b\\c"]])
assert(json.encode("line\nbreak\ttab\r") == [["line\nbreak\ttab\r"]])
assert(json.encode("\1\31") == [["\u0001\u001f"]])
assert(json.encode("/") == [["/"]])
assert(json.encode("héllo ✓") == '"héllo ✓"')
assert(json.encode("\255") == [["\ufffd"]])
assert(json.decode([["\u00e9"]]) == "é")
assert(json.decode([["\ud83d\ude00"]]) == "😀")
assert(json.decode([["\ud83d"]]) == "\239\191\189")
assert(json.decode([["a\/b"]]) == "a/b")
assert(json.decode([["\u0000"]]) == "\0")
local s = ""
for i = 0, 255 do s = s .. string.char(i) end
local back = json.decode(json.encode(s))
assert(back:sub(1, 128) == s:sub(1, 128))
v, err = json.decode([["\q"]])
assert(v == nil and err == "invalid character 'q' at offset 2", err)

-- nesting
local deep = json.decode(string.rep("[", 1000) .. string.rep("]", 1000))
assert(type(deep) == "table")
v, err = json.decode(string.rep("[", 1001) .. string.rep("]", 1001))
assert(v == nil and err:find("nesting too deep", 1, true), err)
local n = {}
local cur = n
for _ = 1, 1000 do cur.next = {} cur = cur.next end
raises("nesting too deep", json.encode, n)

-- cycles and unencodable values
local c = {}
c.me = c
raises("cannot encode a cyclic table", json.encode, c)
raises("cannot encode a function", json.encode, {cb = function() end})
raises("cannot encode a thread", json.encode, coroutine.create(print))
local shared = {1}
assert(json.encode({shared, shared}) == "[[1],[1]]")

-- booleans and duplicate keys
assert(json.decode("true") == true and json.decode("false") == false)
assert(json.encode({true, false}) == "[true,false]")
assert(json.decode('{"a":1,"a":2}').a == 2)

-- decode errors return nil, err and say where
v, err = json.decode("")
assert(v == nil and err == "unexpected end of JSON input", err)
v, err = json.decode("[1,2,x]")
assert(v == nil and err == "invalid character 'x' at offset 5", err)
v, err = json.decode("[1] [2]")
assert(v == nil and err == "invalid character '[' at offset 4", err)
assert(json.decode("  [1]  ")[1] == 1)

-- a chat message
local msg = json.decode('{"type":"msg","room":"lobby","text":"hello there, how are you?"}')
assert(msg.type == "msg" and msg.room == "lobby")
assert(json.encode({type = "ack", id = 1}) == '{"type":"ack","id":1}' or
       json.encode({type = "ack", id = 1}) == '{"id":1,"type":"ack"}')
