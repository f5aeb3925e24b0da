-- getObject of random objects among the first OBJECTS ids from FIRST. Used by
-- scripts/bench.sh.
local first = tonumber(os.getenv("FIRST") or "1")
local objects = tonumber(os.getenv("OBJECTS") or "10000")
setup = function(thread)
  thread:set("seed", math.random(1, 1000000))
end
init = function()
  math.randomseed(seed or os.time())
end
request = function()
  return wrk.format("GET", "/getObject?objectId=" .. (first + math.random(0, objects - 1)))
end
