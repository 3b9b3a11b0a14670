-- missing_module.lua: requires a module that is not there.
local helpers = require "helpers"
return {}
