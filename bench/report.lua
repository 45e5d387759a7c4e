-- Shared part of the wrk scripts: counts responses whose status is not 200 (the only success
-- status of the endpoints measured here) and prints one machine-readable `BENCH` line at the end,
-- which bench/load.sh parses. Loaded with dofile() by token.lua and get.lua.
--
-- wrk runs one Lua state per thread plus a main one: response() counts in its thread's state,
-- setup() (main state) keeps each thread handle so done() (main state) can add the counts up.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non200") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  local rps = 0
  if secs > 0 then
    rps = summary.requests / secs
  end
  -- wrk reports latencies in microseconds.
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non200=%d sock_errors=%d\n",
    summary.requests, secs, rps,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, bad, e.connect + e.read + e.write + e.timeout))
end
