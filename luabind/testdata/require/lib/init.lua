-- lib/init.lua: a package in a subdirectory.
return { name = "lib", util = require "lib.util" }
