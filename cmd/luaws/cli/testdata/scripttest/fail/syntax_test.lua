local T = {}
function T.test_x(t)
  t.ok(true
end
return T
