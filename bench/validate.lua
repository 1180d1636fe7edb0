-- wrk script for POST /wp-json/cocart/jwt/validate-token with a Bearer token.
-- The token comes from the environment (bench/run.sh sets it), never the command line.
local token = os.getenv("CARTGATE_BENCH_TOKEN") or ""
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Length"] = "0"
