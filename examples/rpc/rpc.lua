-- rpc.lua: JSON request/response over a WebSocket, in the shape of
-- JSON-RPC 2.0 (without batches). Run it with:
--
--   luaws serve --serializer json examples/rpc/rpc.lua
--
--   client → {"id":1,"method":"add","params":[1,2]}
--   server → {"id":1,"result":3}
--   client → {"id":2,"method":"nope"}
--   server → {"id":2,"error":{"code":-32601,"message":"method not found: nope"}}
--
-- Every request gets exactly one reply carrying its id, so a client may
-- have many requests in flight and match the replies as they come.
local M = {}

-- Error codes, as in JSON-RPC 2.0.
local PARSE_ERROR      = -32700  -- the message is not JSON
local INVALID_REQUEST  = -32600  -- not a request object
local METHOD_NOT_FOUND = -32601
local INVALID_PARAMS   = -32602
local INTERNAL_ERROR   = -32603  -- the method raised a Lua error
local DIVISION_BY_ZERO = 1       -- an application error

-- fail raises an error that becomes the reply's "error" as it is.
local function fail(code, message)
  error({ code = code, message = message }, 0)
end

-- numbers checks that params is a list of n numbers (any count when n is
-- nil) and returns it.
local function numbers(params, n, what)
  if type(params) ~= "table" or (n and #params ~= n) or (not n and #params == 0) then
    fail(INVALID_PARAMS, what)
  end
  for i = 1, #params do
    if type(params[i]) ~= "number" then fail(INVALID_PARAMS, what) end
  end
  return params
end

-- methods: name → function(params, conn) returning the result.
local methods = {}

function methods.add(params)
  local sum = 0
  for _, v in ipairs(numbers(params, nil, "add takes a list of numbers")) do sum = sum + v end
  return sum
end

function methods.divide(params)
  local p = numbers(params, 2, "divide takes two numbers")
  if p[2] == 0 then fail(DIVISION_BY_ZERO, "division by zero") end
  return p[1] / p[2]
end

function methods.upper(params)
  if type(params) ~= "table" or type(params[1]) ~= "string" then
    fail(INVALID_PARAMS, "upper takes one string")
  end
  return params[1]:upper()
end

-- echo returns its params as they came (null, [] and {} survive).
function methods.echo(params)
  if params == nil then return luaws.null end
  return params
end

-- whoami is state on the connection: its id and how many calls it made.
function methods.whoami(_, conn)
  return { id = conn.id, calls = conn.data.calls }
end

-- broken has a bug, to show what one does: the client gets "internal
-- error" (-32603), the log gets the Lua error with file:line, and the
-- connection goes on.
function methods.broken(params)
  return params.missing.field
end

local function reply(conn, id, result)
  if result == nil then result = luaws.null end
  conn:send({ id = id, result = result })
end

local function reply_error(conn, id, code, message)
  if id == nil then id = luaws.null end
  conn:send({ id = id, error = { code = code, message = message } })
end

function M.open(conn)
  conn.data.calls = 0
end

function M.message(conn, req)
  if type(req) ~= "table" or req[1] ~= nil then
    return reply_error(conn, nil, INVALID_REQUEST, "invalid request: send a JSON object")
  end
  local id = req.id
  if type(id) ~= "number" and type(id) ~= "string" then
    return reply_error(conn, nil, INVALID_REQUEST, "invalid request: id must be a number or a string")
  end
  if type(req.method) ~= "string" then
    return reply_error(conn, id, INVALID_REQUEST, "invalid request: method must be a string")
  end
  local method = methods[req.method]
  if method == nil then
    return reply_error(conn, id, METHOD_NOT_FOUND, "method not found: " .. req.method)
  end
  conn.data.calls = conn.data.calls + 1
  local ok, result = pcall(method, req.params, conn)
  if ok then
    return reply(conn, id, result)
  end
  if type(result) == "table" and result.code then
    return reply_error(conn, id, result.code, result.message)
  end
  -- A bug in a method: log where, tell the client only that it failed.
  luaws.log.error("rpc method failed", "method", req.method, "error", tostring(result))
  reply_error(conn, id, INTERNAL_ERROR, "internal error")
end

function M.malformed_message(conn, raw, err)
  reply_error(conn, nil, PARSE_ERROR, "parse error: " .. err)
end

return M
