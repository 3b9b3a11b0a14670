-- greet.lua: a module next to main.lua.
local M = {}
function M.hello(name) return "hello " .. name end
return M
