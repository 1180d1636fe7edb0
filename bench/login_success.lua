-- wrk script for POST /wp-json/cocart/v2/login that succeeds: the bench accounts
-- (CARTGATE_BENCH_LOGINS, comma separated; bench/run.sh makes them, no two-factor) in
-- turn, with the password in CARTGATE_BENCH_PASSWORD, both from the environment so
-- nothing secret is on a command line. Several accounts so that per-account work (the
-- session limit, the account's rows) is not one row's queue. Each answer is counted by
-- status in done().
local threads = {}
function setup(thread) table.insert(threads, thread) end

local logins = {}
for name in string.gmatch(os.getenv("CARTGATE_BENCH_LOGINS") or "", "[^,]+") do table.insert(logins, name) end
local password = os.getenv("CARTGATE_BENCH_PASSWORD") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local n = 0
function init(args) s200, s429, other = 0, 0, 0; n = math.random(0, 1000) end

function request()
  n = n + 1
  local body = string.format('{"username":"%s","password":"%s"}', logins[n % #logins + 1], password)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 then s200 = s200 + 1 elseif status == 429 then s429 = s429 + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a, b, c = a + t:get("s200"), b + t:get("s429"), c + t:get("other") end
  io.write(string.format("login statuses: 200 %d, 429 %d, other %d\n", a, b, c))
end
