-- wrk script: client-credentials token requests (RFC 6749 §4.4, client_secret_basic) each with
-- its own pre-signed DPoP proof (RFC 9449 §4), for bench/tokens.sh. wrk cannot sign, so
-- examples/dpop_proofs.rs writes the proofs beforehand, one file per wrk thread
-- (`PROOFS.0`, `PROOFS.1`, …); thread i sends the lines of its own file in order, each once (the
-- server refuses a replayed `jti`, RFC 9449 §11.1). When a thread has used up its file it sends
-- `DPoP: exhausted`, which the server answers 400, so a too-small budget shows as non-2xx and
-- as `exhausted=N` on the `BENCH_DPOP` line, never as silently reused proofs.
-- Environment (set by bench/tokens.sh):
--   TARGET_PATH    the token endpoint path, e.g. /t/bench/token
--   AUTH           the whole Authorization header value
--   BODY           the form body (default: grant_type=client_credentials)
--   PROOFS         path prefix of the proof files
--   EXPECT         text every 200 body must contain, e.g. "token_type":"DPoP"
--   BENCH_LUA_DIR  directory holding report.lua and check.lua (default: bench)

local function required(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    error(name .. " is not set")
  end
  return value
end

local lua_dir = os.getenv("BENCH_LUA_DIR") or "bench"
dofile(lua_dir .. "/report.lua")
dofile(lua_dir .. "/check.lua")

local path = required("TARGET_PATH")
local auth = required("AUTH")
local body = os.getenv("BODY") or "grant_type=client_credentials"
local prefix = required("PROOFS")
local dpop_threads = {}
local checked_setup, checked_init, checked_done = setup, init, done

function setup(thread)
  table.insert(dpop_threads, thread)
  checked_setup(thread)
end

function init(args)
  checked_init(args)
  proofs = {}
  next_proof = 1
  exhausted = 0
  local file = prefix .. "." .. (thread_index - 1)
  for line in io.lines(file) do
    if line ~= "" then
      proofs[#proofs + 1] = line
    end
  end
  loaded = #proofs
end

local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = auth,
}

function request()
  local proof = proofs[next_proof]
  if proof == nil then
    exhausted = exhausted + 1
    proof = "exhausted"
  else
    proofs[next_proof] = nil
    next_proof = next_proof + 1
  end
  headers["DPoP"] = proof
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  checked_done(summary, latency, requests)
  local total_loaded, used, short = 0, 0, 0
  for _, thread in ipairs(dpop_threads) do
    total_loaded = total_loaded + (thread:get("loaded") or 0)
    used = used + (thread:get("next_proof") or 1) - 1
    short = short + (thread:get("exhausted") or 0)
  end
  io.write(string.format("BENCH_DPOP loaded=%d used=%d exhausted=%d\n", total_loaded, used, short))
end
