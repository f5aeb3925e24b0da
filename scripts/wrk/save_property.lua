-- saveProperty of `age` on random objects among the first OBJECTS ids (default 10,000)
-- from FIRST (default 1). Used by scripts/bench.sh. RATE paces the whole run at about RATE
-- requests/s (scripts/bench-queries.sh --writes-per-second): every connection pauses
-- before each request, and once a second the pause is corrected by the rate reached in that
-- second, so the rate holds whatever the requests' own latency (one wrk thread: `-t1`).
local first = tonumber(os.getenv("FIRST") or "1")
local objects = tonumber(os.getenv("OBJECTS") or "10000")
local rate = tonumber(os.getenv("RATE") or "0")
if rate > 0 then
  -- wrk's -c, which the Lua side cannot see: the first pause only.
  local pause = tonumber(os.getenv("CONNECTIONS") or "8") * 1000 / rate
  local second = os.time()
  local sent = 0
  local whole = false
  delay = function()
    local now = os.time()
    if now ~= second then
      -- The first second started part-way through: only whole seconds correct the pause,
      -- by at most a factor of 2 each.
      if whole and sent > 0 then
        local factor = sent / (rate * (now - second))
        pause = pause * math.max(0.5, math.min(2, factor))
        -- A pause of 0 could not grow again by a factor: keep it at least 0.1 ms.
        pause = math.max(0.1, math.min(10000, pause))
      end
      whole = true
      second = now
      sent = 0
    end
    sent = sent + 1
    return math.floor(pause + math.random())
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
