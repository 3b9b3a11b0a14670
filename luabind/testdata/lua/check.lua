-- check.lua: assertions for the Lua tests in this directory (required next
-- to them, so it also shows that require finds modules beside the script).
local check = {}

-- show renders v for a failure message: tables as sorted key=value lists.
local function show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or depth > 3 then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = tostring(k) .. "=" .. show(v[k], depth + 1)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end
check.show = show

-- deep compares plain values and tables (not metatables).
local function deep(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not deep(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- fail raises msg prefixed with the file:line of the test that called
-- eq or raises (gopher-lua's error(msg, 2) points at the callee).
local function fail(msg)
  local info = debug.getinfo(3, "Sl")
  error(info.source .. ":" .. info.currentline .. ": " .. msg, 0)
end

-- eq raises "what: got X, want Y" (pointing at the caller) unless got and
-- want are deeply equal.
function check.eq(got, want, what)
  if not deep(got, want) then
    fail((what or "value") .. ": got " .. show(got) .. ", want " .. show(want))
  end
end

-- raises calls fn and checks that it raises an error containing sub.
function check.raises(fn, sub, what)
  local ok, err = pcall(fn)
  if ok then
    fail((what or "call") .. ": got no error, want one containing " .. show(sub))
  end
  if not string.find(tostring(err), sub, 1, true) then
    fail((what or "call") .. ": got error " .. show(tostring(err)) .. ", want one containing " .. show(sub))
  end
end

-- run runs every function of tests in name order with conn; the first
-- failure raises (closing the connection with 1011 and logging file:line).
function check.run(tests, conn)
  local names = {}
  for name in pairs(tests) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local ok, err = pcall(tests[name], conn)
    if not ok then error(name .. ": " .. tostring(err), 0) end
  end
  return #names
end

-- handler returns the handler table of a test script: when a client
-- connects, it runs tests with the conn and sends "ok N", N tests passed.
function check.handler(tests)
  return { open = function(conn) conn:send("ok " .. check.run(tests, conn)) end }
end

return check
