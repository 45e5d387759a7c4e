-- wrk script: one fixed form POST per request (RFC 6749 §2.3.1 client_secret_basic), used by
-- bench/tokens.sh for the token endpoint with `resource` (RFC 8707) and for token introspection
-- (RFC 7662 §2.1). Counts, besides report.lua's non-200 answers, the 200 answers whose body
-- lacks EXPECT (e.g. `"active":true`), and prints them as a `BENCH_CHECK` line.
-- Environment (set by bench/tokens.sh):
--   TARGET_PATH    the endpoint path, e.g. /t/bench/introspect
--   AUTH           the whole Authorization header value
--   BODY           the form body, already form-encoded
--   EXPECT         text every 200 body must contain (plain match); empty = no check
--   BENCH_LUA_DIR  directory holding report.lua (default: bench)

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

wrk.method = "POST"
wrk.path = required("TARGET_PATH")
wrk.body = required("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = required("AUTH")
