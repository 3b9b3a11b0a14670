-- auth.lua: only clients with a known token get in. The handshake checks
-- the token before the 101, rejects the rest with 401, and seeds conn.data
-- with who the client is. Run it with:
--
--   luaws serve --serializer json examples/auth/auth.lua
--
-- A client sends its token as "Authorization: Bearer TOKEN", or, from a
-- browser (whose WebSocket API cannot set headers), as ?token=TOKEN.
--
--   server → {"type":"hello","user":"ann","role":"admin"}            on open
--   client → {"type":"say","text":"hi"}       → everyone: {"type":"said","from":"ann","text":"hi"}
--   client → {"type":"announce","text":"..."} → admins only: {"type":"announcement","text":"..."}
--   server → {"type":"error","error":"..."}
local M = {}

-- tokens maps a token to who holds it. A real deployment would verify a
-- signed token (e.g. a JWT's signature and expiry) or look the token up in
-- a session store; the shape of the handshake stays the same.
local tokens = {
  ["s3cret-ann"] = { user = "ann", role = "admin" },
  ["s3cret-bob"] = { user = "bob", role = "member" },
}

-- token returns the token the request carries, or nil.
local function token(req)
  local auth = req.headers["Authorization"]
  if auth then
    local t = auth:match("^[Bb]earer%s+(%S+)%s*$")
    if t then return t end
  end
  local t = req.query.token
  if t ~= nil and t ~= "" then return t end
  return nil
end

function M.handshake(req)
  local t = token(req)
  if t == nil then
    return false, 401, "missing token: send Authorization: Bearer TOKEN or ?token=TOKEN"
  end
  local who = tokens[t]
  if who == nil then
    luaws.log.warn("unknown token", "remote_addr", req.remote_addr)
    return false, 401, "unknown token"
  end
  -- Accepted: data is merged into conn.data before open runs.
  return { data = { user = who.user, role = who.role } }
end

function M.open(conn)
  conn:send({ type = "hello", user = conn.data.user, role = conn.data.role })
end

function M.message(conn, msg)
  if type(msg) ~= "table" or type(msg.text) ~= "string" then
    return conn:send({ type = "error", error = "send {\"type\":\"say\",\"text\":\"...\"}" })
  end
  if msg.type == "say" then
    luaws.broadcast({ type = "said", from = conn.data.user, text = msg.text })
  elseif msg.type == "announce" then
    if conn.data.role ~= "admin" then
      return conn:send({ type = "error", error = "forbidden: announce is for admins" })
    end
    luaws.broadcast({ type = "announcement", text = msg.text })
  else
    conn:send({ type = "error", error = "unknown message type" })
  end
end

return M
