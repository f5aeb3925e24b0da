-- saveProperty of `company` (a Lookup) on random objects among the first OBJECTS ids
-- (default 10,000) from FIRST (default 1), pointing at one of COMPANIES companies from
-- COMPANY_FIRST: each save moves a Lookup count (docs/QUERY.md, "Counts per Lookup
-- target"). Used by scripts/bench-writes.sh (workload saveLookup).
local first = tonumber(os.getenv("FIRST") or "1")
local objects = tonumber(os.getenv("OBJECTS") or "10000")
local company_first = tonumber(os.getenv("COMPANY_FIRST") or "10001")
local companies = tonumber(os.getenv("COMPANIES") or "100")
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
    '{"objectId":%d,"propertyName":"company","propertyValue":%d}', id,
    company_first + math.random(0, companies - 1))
  return wrk.format(nil, "/saveProperty", nil, body)
end
