-- POST one single-use credential (authorization code or refresh token) per request,
-- each exactly once, and stop when they run out. Run with wrk -t1. From the environment:
--   BENCH_WRK_DIR      this directory (for report.lua)
--   BENCH_TOKENS       file with one credential per line
--   BENCH_BODY_PREFIX  form body before the credential, e.g. "grant_type=refresh_token&refresh_token="
--   BENCH_AUTH         Authorization header value ("Basic ..."); none when unset or empty
--   BENCH_TOKEN_HEADER when set, the credential goes in this header (a DPoP proof) and
--                      the body is BENCH_BODY_PREFIX alone
--   BENCH_SAMPLES      file to which the tokens of the first few 200 answers are appended
--
-- The rate is computed here, over the window from the first request to the last 200
-- answer: wrk's own duration is the whole -d even when the credentials ran out early.
-- Only 200 answers count as done; any other status is an error.

local report = dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local prefix = os.getenv("BENCH_BODY_PREFIX") or ""
local token_header = os.getenv("BENCH_TOKEN_HEADER") or ""
local req_headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
local auth = os.getenv("BENCH_AUTH") or ""
if auth ~= "" then
  req_headers["Authorization"] = auth
end
local tokens, idx = {}, 0

-- Globals, read by done() through thread:get().
seeded, used, ok, bad, first_us, last_us = 0, 0, 0, 0, 0, 0
samples, first_error, exhausted = "", "", 0

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then
      seeded = seeded + 1
      tokens[seeded] = line
    end
  end
end

function request()
  if idx >= seeded then
    if exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
    end
    -- Never sent in practice: the event loop stops before it is written out.
    return wrk.format("GET", "/healthz")
  end
  idx = idx + 1
  used = idx
  if first_us == 0 then
    first_us = now_us()
  end
  if token_header ~= "" then
    req_headers[token_header] = tokens[idx]
    return wrk.format("POST", wrk.path, req_headers, prefix)
  end
  return wrk.format("POST", wrk.path, req_headers, prefix .. tokens[idx])
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    last_us = now_us()
    if ok <= 3 then
      for _, name in ipairs({ "access_token", "id_token" }) do
        local t = string.match(body, '"' .. name .. '":"([^"]+)"')
        if t then
          samples = samples .. t .. "\n"
        end
      end
    end
  else
    bad = bad + 1
    if first_error == "" then
      first_error = (tostring(status) .. ":" .. string.sub(body or "", 1, 160)):gsub("%s", "_")
    end
  end
end

function done(summary, latency, requests)
  local t = threads[1]
  local n_ok, n_bad = t:get("ok"), t:get("bad")
  local window = (t:get("last_us") - t:get("first_us")) / 1e6
  local path = os.getenv("BENCH_SAMPLES")
  if path and path ~= "" then
    local f = assert(io.open(path, "a"))
    f:write(t:get("samples"))
    f:close()
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  report.print(summary, latency, {
    string.format("ok=%d", n_ok),
    string.format("bad=%d", n_bad),
    string.format("used=%d", t:get("used")),
    string.format("seeded=%d", t:get("seeded")),
    string.format("exhausted=%d", t:get("exhausted")),
    string.format("window_s=%.3f", window),
    string.format("ok_rps=%.1f", window > 0 and n_ok / window or 0),
    string.format("single_use_errors=%d", n_bad + socket),
    "first_error=" .. (t:get("first_error") ~= "" and t:get("first_error") or "-"),
  })
end
