-- Shared by the wrk scripts of scripts/bench.sh: one machine-readable line at the end
-- of a run, "RESULT key=value ...", which the script parses.

local M = {}

-- Latencies in microseconds; `extra` is a table of further key=value pairs.
function M.print(summary, latency, extra)
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  local parts = {
    "RESULT",
    string.format("requests=%d", summary.requests),
    string.format("duration_us=%d", summary.duration),
    string.format("rps=%.1f", secs > 0 and summary.requests / secs or 0),
    string.format("p50_us=%d", latency:percentile(50.0)),
    string.format("p99_us=%d", latency:percentile(99.0)),
    string.format("max_us=%d", latency.max),
    string.format("status_errors=%d", e.status),
    string.format("socket_errors=%d", socket),
    string.format("errors=%d", socket + e.status),
  }
  for _, kv in ipairs(extra or {}) do
    parts[#parts + 1] = kv
  end
  io.write(table.concat(parts, " ") .. "\n")
end

return M
