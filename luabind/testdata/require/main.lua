-- main.lua: requires modules next to it, run by TestRequire.
local greet = require "greet"      -- greet.lua
local lib = require "lib"          -- lib/init.lua
local util = require "lib.util"    -- lib/util.lua

local M = {}

function M.message(conn, msg)
  if msg == "greet" then
    conn:send(greet.hello("ann"))
  elseif msg == "lib" then
    conn:send(lib.name .. " " .. util.double(21) .. " " .. tostring(lib.util == util))
  elseif msg == "broken" or msg == "raises" or msg == "missing" then
    local ok, err = pcall(require, msg)
    conn:send(tostring(ok) .. " " .. tostring(err))
  end
end

return M
