-- wrk script: requests spread over a set of tenants, a random one per request.
-- Environment (set by bench/scale.sh):
--   TENANTS_FILE   lines "<slug> <Authorization header value>" (the header may be "-" for GETs)
--   KIND           discovery | jwks | token (client_credentials, client_secret_basic)
--   SEQUENTIAL=1   walk the list in order instead (each thread its own stride; used to warm the
--                  snapshot cache with exactly the listed tenants)
--   BENCH_LUA_DIR  directory holding report.lua
-- Prints report.lua's `BENCH …` line.

dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/report.lua")

local file = os.getenv("TENANTS_FILE") or error("TENANTS_FILE is not set")
local kind = os.getenv("KIND") or error("KIND is not set")
local sequential = os.getenv("SEQUENTIAL") == "1"

local base_setup, base_init = setup, init
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  base_setup(thread)
end

local requests_list = {}
function init(args)
  base_init(args)
  for line in io.lines(file) do
    local slug, auth = line:match("^(%S+)%s+(.+)$")
    if slug then
      local req
      if kind == "discovery" then
        req = wrk.format("GET", "/t/" .. slug .. "/.well-known/openid-configuration")
      elseif kind == "jwks" then
        req = wrk.format("GET", "/t/" .. slug .. "/jwks")
      else
        req = wrk.format("POST", "/t/" .. slug .. "/token", {
          ["Authorization"] = auth,
          ["Content-Type"] = "application/x-www-form-urlencoded",
        }, "grant_type=client_credentials")
      end
      table.insert(requests_list, req)
    end
  end
  if #requests_list == 0 then
    error("no tenants in " .. file)
  end
  math.randomseed(os.time() * 1000 + (tid or 0))
  position = (tid or 1) - 1
end

function request()
  if sequential then
    local req = requests_list[(position % #requests_list) + 1]
    position = position + 2 -- wrk -t 2: thread 1 takes the odd lines, thread 2 the even ones
    return req
  end
  return requests_list[math.random(#requests_list)]
end
