---@meta luaws
-- LuaLS (lua-language-server) definitions of the luaws Lua API, written by
-- `luaws types`: the luaws module, the conn object, the handshake's req,
-- the handlers a script returns and the harness of `luaws test`. Do not
-- edit: run `luaws types` again after upgrading luaws. The reference is
-- docs/lua-api.md; a luaws test fails when a name is missing here.

---A value that crosses to Go and back: nil, boolean, number, string or a
---table of them (no functions, userdata or cycles).
---@alias luaws.Value nil|boolean|number|string|luaws.Null|table

---JSON null, luaws.null.
---@class luaws.Null: userdata

---A message kind.
---@alias luaws.Kind "text"|"binary"

---What the handshake settled, with TLS.
---@class luaws.TLS
---@field version string e.g. "TLS 1.3"
---@field cipher string
---@field server_name string the SNI name the client asked for
---@field client? luaws.ClientCert the client certificate, when one was given

---A client certificate.
---@class luaws.ClientCert
---@field subject string
---@field issuer string
---@field sans string[] the subject alternative names
---@field serial string
---@field fingerprint_sha256 string

---The upgrade request that handshake, open and error see.
---@class luaws.Request
---@field path string the full path, also below a mount ending in "/"
---@field query table<string, string> repeated values joined with ", "
---@field headers table<string, string> canonical names (User-Agent), repeated values joined with ", "
---@field remote_addr string the client's address (after real_ip)
---@field subprotocols string[] what the client offered, in its order
---@field tls? luaws.TLS with TLS only

---What handshake may return to accept with more (every key optional).
---@class luaws.HandshakeReply
---@field subprotocol? string used only if the client offered it
---@field headers? table<string, string|string[]> added to the 101 response
---@field data? table<string, luaws.Value> seeds conn.data

---The handlers a script returns; every one is optional. Annotate the
---script's table with `---@type luaws.Handlers`.
---@class luaws.Handlers
---@field handshake? fun(req: luaws.Request): (boolean|luaws.HandshakeReply|nil), integer?, string? # before the 101: nothing or true accepts, false[, status[, body]] rejects (default 403), a table accepts with more
---@field open? fun(conn: luaws.Conn, req: luaws.Request) # the connection is open
---@field message? fun(conn: luaws.Conn, msg: any, kind: luaws.Kind) # one message, decoded by the mount's serializer
---@field malformed_message? fun(conn: luaws.Conn, raw: string, err: string) # a message the serializer could not decode; without it the connection is closed with 1007
---@field close? fun(conn: luaws.Conn, code: integer, reason: string) # the connection ended, whatever the cause; runs once
---@field error? fun(req: luaws.Request, err: string, status: integer, detail: string): integer?, table<string, string>?, string? # a failed handshake: returns status, headers, body
---@field reload? fun(conn: luaws.Conn) # after a hot reload, for each connection, before its next event on the new code

---One WebSocket connection. Fields are read-only; keep your own values in
---conn.data.
---@class luaws.Conn
---@field id integer from 1, never reused while the process lives
---@field data table<string, luaws.Value> the connection's Go-side map, shared by every worker; reading a table gives a copy
---@field path string from the handshake
---@field query table<string, string> from the handshake
---@field headers table<string, string> from the handshake, canonical names
---@field remote_addr string from the handshake
---@field subprotocol string the subprotocol chosen, "" if none
---@field tls? luaws.TLS with TLS only
local conn = {}

---Queues v: encoded by the mount's serializer (json), or a string or
---number as a text frame (none). Never blocks.
---@param v any
---@return true|nil ok
---@return string? err "closed" or "send queue full"
function conn:send(v) end

---Queues one binary frame.
---@param s string
---@return true|nil ok
---@return string? err
function conn:send_binary(s) end

---Sends a ping; the payload is cut to 125 bytes.
---@param payload? string
function conn:ping(payload) end

---Starts the close handshake (default 1000); what was queued before goes first.
---@param code? integer
---@param reason? string
function conn:close(code, reason) end

---The connection receives what luaws.publish(topic, v) sends, from any node.
---@param topic string
---@return true|nil ok
---@return string? err "closed"
function conn:subscribe(topic) end

---@param topic string
---@return boolean was_subscribed
function conn:unsubscribe(topic) end

---A pending luaws.after / luaws.every timer.
---@class luaws.Timer
local timer = {}

---@return boolean pending true if the timer was still pending
function timer:cancel() end

---The luaws module, a global in every script.
---@class luaws
luaws = {}

---The open connections of this mount, id → conn.
---@return table<integer, luaws.Conn>
function luaws.connections() end

---@param id integer
---@return luaws.Conn?
function luaws.get(id) end

---Sends v to every open connection of the mount, on every node sharing
---the broker, but except; returns the count on this node.
---@param v any
---@param except? luaws.Conn|integer
---@return integer|nil count
---@return string? err
function luaws.broadcast(v, except) end

---Sends v to every connection subscribed to topic, on every node sharing
---the broker; returns the count on this node.
---@param topic string
---@param v any
---@return integer|nil count
---@return string? err
function luaws.publish(topic, v) end

---Runs fn once, sec seconds from now, on this worker.
---@param sec number
---@param fn fun(handle: luaws.Timer)
---@return luaws.Timer|nil handle
---@return string? err "too many timers"
function luaws.after(sec, fn) end

---Runs fn every sec seconds on this worker.
---@param sec number
---@param fn fun(handle: luaws.Timer)
---@return luaws.Timer|nil handle
---@return string? err "too many timers"
function luaws.every(sec, fn) end

---JSON null: decoded null is this value, so it survives in tables.
---@type luaws.Null
luaws.null = nil

---Marks t (or a new table) as a JSON array, so an empty one encodes as [].
---@generic T: table
---@param t? T
---@return T
function luaws.array(t) end

---Structured log lines with the script's name and line.
---@class luaws.log
luaws.log = {}

---@param msg string
---@param ... any key, value, ...
function luaws.log.debug(msg, ...) end

---@param msg string
---@param ... any key, value, ...
function luaws.log.info(msg, ...) end

---@param msg string
---@param ... any key, value, ...
function luaws.log.warn(msg, ...) end

---@param msg string
---@param ... any key, value, ...
function luaws.log.error(msg, ...) end

---JSON that round-trips null, [] and {}.
---@class luaws.json
luaws.json = {}

---Raises if v cannot be encoded (a function, userdata, a cycle, NaN, ±Inf).
---@param v any
---@return string
function luaws.json.encode(v) end

---@param s string
---@return any value
---@return string? err
function luaws.json.decode(s) end

---The same value as luaws.null.
---@type luaws.Null
luaws.json.null = nil

---The same function as luaws.array.
---@generic T: table
---@param t? T
---@return T
function luaws.json.array(t) end

---A store shared by every worker and mount of the process.
---@class luaws.Shared
luaws.shared = {}

---@param key string
---@return luaws.Value
function luaws.shared:get(key) end

---Stores v, forever or for ttl seconds; set(key, nil) deletes.
---@param key string
---@param v luaws.Value
---@param ttl? number
---@return true
function luaws.shared:set(key, v, ttl) end

---Adds by (default 1) atomically; a missing key starts at 0.
---@param key string
---@param by? number
---@return number|nil n
---@return string? err "not a number"
function luaws.shared:incr(key, by) end

---@param key string
function luaws.shared:delete(key) end

---A test file of `luaws test` returns a table of test_* functions. Annotate
---it with `---@type luaws.TestFile` and each test with `---@param t luaws.T`.
---@class luaws.TestFile
---@field [string] fun(t: luaws.T)

---The harness a test function gets.
---@class luaws.T
local t = {}

---Starts the script's mount in-process, as luaws serve does; the script
---is relative to the test file, opts are luaws.toml [[mount]] keys (and
---real_time = true for the real clock).
---@param script string
---@param opts? table<string, any>
---@return luaws.TestServer
function t.server(script, opts) end

---Fails the test when got and want differ (tables compared deeply).
---@param got any
---@param want any
---@param msg? string
function t.eq(got, want, msg) end

---Fails the test when v is nil or false.
---@param v any
---@param msg? string
function t.ok(v, msg) end

---Fails the test when fn does not raise, or its message does not match
---the Lua pattern; returns the message.
---@param fn function
---@param pattern? string
---@return string msg
function t.error(fn, pattern) end

---Fails the test when no log line of its servers matches the Lua pattern
---within 1 s.
---@param pattern string
function t.log_contains(pattern) end

---What srv:connect takes; every key optional.
---@class luaws.ConnectArgs
---@field path? string defaults to the mount's path
---@field query? string|table<string, string>
---@field headers? table<string, string>
---@field subprotocols? string[]
---@field origin? string

---A server of t.server.
---@class luaws.TestServer
local srv = {}

---Connects a client: the client and the subprotocol chosen, or nil,
---status, body when the handshake is refused. (Typed as a client, so a
---test that expects the handshake to pass needs no nil check.)
---@param args? luaws.ConnectArgs
---@return luaws.TestClient client nil when the handshake is refused
---@return string|integer subprotocol_or_status
---@return string? body
function srv:connect(args) end

---The ids of the open connections, sorted.
---@return integer[]
function srv:connections() end

---The mount's luaws.shared, read-only.
---@return { get: fun(self: any, key: string): luaws.Value }
function srv:shared() end

---Moves the virtual clock sec seconds ahead, firing the timers due on the
---way in order; returns how many fired.
---@param sec number
---@return integer fired
function srv:advance(sec) end

---@return string url the ws:// URL
function srv:url() end

---Shuts the server down now (clients see 1001).
function srv:close() end

---A client of srv:connect.
---@class luaws.TestClient
local c = {}

---Sends a text message, encoded by the mount's serializer.
---@param v any
---@return true|nil ok
---@return string? err "closed"
function c:send(v) end

---@param s string
---@return true|nil ok
---@return string? err "closed"
function c:send_binary(s) end

---The next message, decoded, and its kind; nil, "timeout" after timeout
---seconds (default 2); nil, "closed" once closed.
---@param timeout? number
---@return any msg
---@return luaws.Kind|"timeout"|"closed" kind_or_err
function c:recv(timeout) end

---Every message that arrives until the socket has been quiet for 50 ms.
---@return any[]
function c:recv_all() end

---Closes (default 1000) and waits up to 1 s for the server's close.
---@param code? integer
---@param reason? string
function c:close(code, reason) end

---The code and reason once the server closed and every message was read,
---nil before.
---@return integer? code
---@return string? reason
function c:closed() end
