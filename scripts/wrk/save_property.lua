-- saveProperty of `age` on random objects among the first OBJECTS ids (default 10,000)
-- from FIRST (default 1). Used by scripts/bench.sh. DELAY_MS paces each connection (a pause
-- before each request; scripts/bench-queries.sh --writes-per-second).
local first = tonumber(os.getenv("FIRST") or "1")
local objects = tonumber(os.getenv("OBJECTS") or "10000")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
if delay_ms > 0 then
  delay = function()
    return delay_ms
  end
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
setup = function(thread)
  thread:set("seed", math.random(1, 1000000))
end
init = function()
  math.randomseed(seed or os.time())
end
request = function()
  local id = first + math.random(0, objects - 1)
  local body = string.format(
    '{"objectId":%d,"propertyName":"age","propertyValue":"%d"}', id, math.random(1, 99))
  return wrk.format(nil, "/saveProperty", nil, body)
end
