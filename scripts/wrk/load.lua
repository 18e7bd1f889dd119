-- The same request over and over (wrk builds it once). From the environment:
--   BENCH_WRK_DIR  this directory (for report.lua)
--   BENCH_METHOD   GET (default) or POST
--   BENCH_BODY     form body (sent as application/x-www-form-urlencoded)
--   BENCH_AUTH     Authorization header value, e.g. "Basic ..."
-- Errors counted: every status >= 400 (wrk's rule) plus socket errors and timeouts.

local report = dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local auth = os.getenv("BENCH_AUTH") or ""
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

function done(summary, latency, requests)
  report.print(summary, latency)
end
