-- A table view: Person, one equality filter, numeric order, 50 rows (getObjectListTable).
-- Used by scripts/bench.sh (gen_export.py's surnames) and scripts/bench-queries.sh (NAMES:
-- the surnames of `cargo bench --bench query`'s people, comma-separated).
local names = {}
for name in string.gmatch(os.getenv("NAMES") or "Doe,Miller,Schmidt,Meyer,Weber,Wagner,Becker,Hoffmann", "[^,]+") do
  names[#names + 1] = name
end
setup = function(thread)
  thread:set("seed", math.random(1, 1000000))
end
init = function()
  math.randomseed(seed or os.time())
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format(
    '{"objectType":"Person","filter":{"lastName":"%s"},"orderBy":"age","limit":50}',
    names[math.random(1, #names)])
  return wrk.format(nil, "/getObjectListTable", nil, body)
end
