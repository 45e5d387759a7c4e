-- Shared part of form.lua and dpop.lua, loaded after report.lua: wraps its setup(), init(),
-- response() and done() to also count 200 answers whose body lacks the text in EXPECT, and
-- prints `BENCH_CHECK unexpected=N sample=...` (the start of the first such body; the bodies
-- checked here carry no secret when they are wrong: an OAuth error or `{"active":false}`).

local expect = os.getenv("EXPECT") or ""
local check_threads = {}
local base_setup, base_init, base_response, base_done = setup, init, response, done

function setup(thread)
  table.insert(check_threads, thread)
  thread:set("thread_index", #check_threads)
  base_setup(thread)
end

function init(args)
  unexpected = 0
  sample = ""
  base_init(args)
end

function response(status, headers, body)
  base_response(status, headers, body)
  if status == 200 and expect ~= "" and not string.find(body or "", expect, 1, true) then
    unexpected = unexpected + 1
  end
  if status ~= 200 and sample == "" then
    sample = string.format("%d %s", status, (string.gsub(string.sub(body or "", 1, 160), "%c", " ")))
  end
end

function done(summary, latency, requests)
  base_done(summary, latency, requests)
  local total, first = 0, ""
  for _, thread in ipairs(check_threads) do
    total = total + (thread:get("unexpected") or 0)
    local s = thread:get("sample") or ""
    if first == "" then
      first = s
    end
  end
  io.write(string.format("BENCH_CHECK unexpected=%d first_non200=%q\n", total, first))
end
