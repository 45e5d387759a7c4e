-- wrk script: client-credentials token requests (RFC 6749 §4.4) authenticated with
-- client_secret_basic (RFC 6749 §2.3.1).
-- Environment (set by bench/load.sh):
--   AUTH           the whole Authorization header value, "Basic base64(client_id:client_secret)"
--   TARGET_PATH    the token endpoint path, e.g. /t/bench-rs/token
--   BENCH_LUA_DIR  directory holding report.lua (default: bench)

local function required(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    error(name .. " is not set")
  end
  return value
end

dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/report.lua")

wrk.method = "POST"
wrk.path = required("TARGET_PATH")
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = required("AUTH")
