-- raises.lua: raises while loading.
error("cannot load raises")
