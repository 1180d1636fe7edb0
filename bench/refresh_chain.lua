-- wrk script for POST /wp-json/cocart/jwt/refresh-token that rotates for real: every
-- refresh token is used once, and the one each answer brings is the next one sent, so
-- each connection follows its own chain (rotation makes a token sent twice a "reuse",
-- which revokes the session). The starting tokens come one a line from the file named
-- by CARTGATE_BENCH_REFRESH_FILE (bench/run.sh makes them with `cartgate jwt create`),
-- split between wrk's CARTGATE_BENCH_THREADS threads; each thread needs at least as many
-- as it has connections. A request with no token left sends one no session has (401),
-- counted as "starved" in done().
local threads = {}
local count = 0
function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  pool, starved, s200, other = {}, 0, 0, 0
  local n = tonumber(os.getenv("CARTGATE_BENCH_THREADS") or "1")
  local i = 0
  for line in io.lines(os.getenv("CARTGATE_BENCH_REFRESH_FILE")) do
    if line ~= "" then
      if i % n == id then table.insert(pool, line) end
      i = i + 1
    end
  end
end

function request()
  local token = table.remove(pool)
  if not token then
    starved = starved + 1
    token = string.rep("ab", 64)
  end
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local next_token = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if next_token then
    s200 = s200 + 1
    table.insert(pool, next_token)
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a, b, c = a + t:get("s200"), b + t:get("other"), c + t:get("starved") end
  io.write(string.format("refresh statuses: 200 %d, other %d, starved %d\n", a, b, c))
end
