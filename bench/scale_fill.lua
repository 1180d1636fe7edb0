-- wrk script of bench/scale.sh: GET /wp-json/cartgate/v1/me once with every token of
-- $CARTGATE_SCALE_TOKENS (one per line), split between wrk's threads, then stops; so
-- every session is seen (and cached) by the worker that answers it.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  thread:set("counter_total", tonumber(os.getenv("CARTGATE_SCALE_THREADS")))
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  local n = 0
  for line in io.lines(os.getenv("CARTGATE_SCALE_TOKENS")) do
    if n % counter_total == id then table.insert(tokens, line) end
    n = n + 1
  end
  next_token = 1
  answered = 0
end

function request()
  local t = tokens[next_token]
  if t == nil then t = tokens[#tokens] end
  next_token = next_token + 1
  return wrk.format("GET", "/wp-json/cartgate/v1/me", {["Authorization"] = "Bearer " .. t})
end

function response(status, headers, body)
  answered = answered + 1
  if answered >= #tokens then wrk.thread:stop() end
end
