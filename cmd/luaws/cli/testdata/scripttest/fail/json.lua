local M = {}
function M.message(conn, msg)
  luaws.log.info("got " .. tostring(msg.n))
  conn:send({ n = msg.n, list = luaws.array({}), none = luaws.null })
end
return M
