-- raises.lua: compiles, raises while loading.
local M = {}
local config = nil
M.port = config.port
return M
