-- getAggregate: Person grouped by status, a filter on a random last name, count, sum and
-- average of age, the sum of salary (Currency, exact) and the latest birthDate.
-- Used by scripts/bench.sh.
local names = {"Doe", "Miller", "Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann"}
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
    '{"objectType":"Person","query":"lastName == \\"%s\\"","groupBy":["status"],' ..
    '"aggregates":["count","sum:age","avg:age","sum:salary","max:birthDate"]}',
    names[math.random(1, #names)])
  return wrk.format(nil, "/getAggregate", nil, body)
end
