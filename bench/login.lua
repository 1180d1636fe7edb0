-- wrk script for a login flood: POST /wp-json/cocart/v2/login with an unknown name and a
-- wrong password, from a different client address each time (X-Forwarded-For; 127.0.0.1
-- is a trusted proxy), so every request does the full argon2 work against the dummy hash
-- or is turned away. bench/login_flood.sh lifts the login rate limit for its private
-- stack. Prints how many answers were 401 (a password checked), 503 (turned away) and
-- anything else.
local threads = {}
function setup(thread) table.insert(threads, thread) end

local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function init(args) s401, s503, other = 0, 0, 0 end

function request()
  n = n + 1
  local a, b = math.floor(n / 250) % 250, n % 250 + 1
  wrk.headers["X-Forwarded-For"] = string.format("198.18.%d.%d", a, b)
  local body = string.format('{"username":"flood_%d_%d","password":"wrong-password"}', math.random(1, 1e9), n)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 401 then s401 = s401 + 1 elseif status == 503 then s503 = s503 + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a, b, c = a + t:get("s401"), b + t:get("s503"), c + t:get("other") end
  io.write(string.format("flood statuses: 401 %d, 503 %d, other %d\n", a, b, c))
end
