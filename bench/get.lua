-- wrk script: plain GETs of a public document (discovery, JWKS).
-- Environment (set by bench/load.sh):
--   TARGET_PATH    the path, e.g. /t/bench-rs/jwks
--   BENCH_LUA_DIR  directory holding report.lua (default: bench)

local path = os.getenv("TARGET_PATH")
if path == nil or path == "" then
  error("TARGET_PATH is not set")
end

dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/report.lua")

wrk.method = "GET"
wrk.path = path
