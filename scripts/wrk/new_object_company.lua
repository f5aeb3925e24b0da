-- newObject of a Person with 8 properties and a `company` (a Lookup to one of COMPANIES
-- companies from COMPANY_FIRST): each new object adds to a Lookup count. Used by
-- scripts/bench-writes.sh (workload newObjectLookup).
local company_first = tonumber(os.getenv("COMPANY_FIRST") or "10001")
local companies = tonumber(os.getenv("COMPANIES") or "100")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local names = {"Emma", "Liam", "Olivia", "Noah", "Ava", "Elias", "Mia", "Jonas"}
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"objectType":"Person","properties":{"firstName":"%s","lastName":"Bench","age":%d,' ..
    '"height":%.2f,"salary":"%d.50","birthDate":"1990-%02d-%02d","active":%s,"status":"%s",' ..
    '"company":%d}}',
    names[(n % #names) + 1], n % 90 + 1, 1.5 + (n % 50) / 100, 1000 + n % 5000,
    n % 12 + 1, n % 28 + 1, (n % 3 == 0) and "false" or "true", (n % 3 == 0) and "I" or "A",
    company_first + n % companies)
  return wrk.format(nil, "/newObject", nil, body)
end
