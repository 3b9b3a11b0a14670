-- bad_handler.lua: a handler that is not a function.
return { message = "hello" }
