-- no_table.lua: returns no handler table.
local function message() end
return message
