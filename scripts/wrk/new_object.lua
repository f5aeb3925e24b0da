-- newObject of a Person with 8 properties (sample DSConfig). Used by scripts/bench.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local names = {"Emma", "Liam", "Olivia", "Noah", "Ava", "Elias", "Mia", "Jonas"}
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"objectType":"Person","properties":{"firstName":"%s","lastName":"Bench","age":%d,' ..
    '"height":%.2f,"salary":"%d.50","birthDate":"1990-%02d-%02d","active":%s,"status":"%s"}}',
    names[(n % #names) + 1], n % 90 + 1, 1.5 + (n % 50) / 100, 1000 + n % 5000,
    n % 12 + 1, n % 28 + 1, (n % 3 == 0) and "false" or "true", (n % 3 == 0) and "I" or "A")
  return wrk.format(nil, "/newObject", nil, body)
end
