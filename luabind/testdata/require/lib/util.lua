-- lib/util.lua: a module of the package.
return { double = function(x) return 2 * x end }
