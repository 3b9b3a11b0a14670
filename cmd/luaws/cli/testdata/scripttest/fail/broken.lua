local M = {}
function M.open(conn)
  conn:send("x"
end
return M
