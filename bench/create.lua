-- wrk script: bulk tenant creation through the admin API (POST /admin/v1/tenants), each request
-- with a slug no other request uses: "<PREFIX>-<thread>-<n>".
-- Environment (set by bench/scale.sh):
--   TOKEN   an operator access token with the `admin` scope (Bearer)
--   PREFIX  slug prefix, unique per wrk run (a lowercase letter, then letters/digits)
--   ALG     signing algorithm of the new tenants (ES256, RS256, EdDSA)
-- Prints one `CREATE created=N other=M …` line: N responses were 201 Created.

local function required(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    error(name .. " is not set")
  end
  return value
end

local token = required("TOKEN")
local prefix = required("PREFIX")
local alg = required("ALG")
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

function init(args)
  created = 0
  other = 0
  n = 0
end

function request()
  n = n + 1
  local body = string.format('{"slug":"%s-%d-%d","alg":"%s"}', prefix, tid, n, alg)
  return wrk.format("POST", "/admin/v1/tenants", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    if other <= 3 then
      io.stderr:write("create: status " .. status .. ": " .. body .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, thread in ipairs(threads) do
    c = c + (thread:get("created") or 0)
    o = o + (thread:get("other") or 0)
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "CREATE created=%d other=%d duration_s=%.3f rate=%.1f p50_ms=%.3f p99_ms=%.3f\n",
    c, o, secs, c / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
