-- error_handler.lua shapes the HTTP reply of every failed handshake.
local M = {}

function M.handshake(req)
  if req.query.deny then return false, 451, "unavailable for legal reasons" end
  if req.query.boom then error("handshake exploded") end
end

function M.error(req, err, status, detail)
  if req.query.default then return end
  if req.query.raise then error("error handler exploded") end
  return status, { ["Content-Type"] = "application/json", ["X-Err"] = err },
    luaws.json.encode({ err = err, status = status, detail = detail, path = req.path })
end

return M
