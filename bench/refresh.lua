-- wrk script for POST /wp-json/cocart/jwt/refresh-token with a refresh token no session
-- has (answered 401): the route's whole path through a blocking thread and PostgreSQL
-- (rate-limit counter, token lookup) without rotating anything, so one token serves the
-- whole run. bench/login_flood.sh lifts the refresh rate limit for its private stack.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"refresh_token":"' .. string.rep("ab", 64) .. '"}'
