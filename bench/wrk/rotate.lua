-- wrk script of `npm run bench`: every request goes to a user drawn uniformly
-- at random from a file of ids (or emails), in one of these shapes:
--   connect-reset  POST /zitadel.user.v2.UserService/PasswordReset  {"userId":ID,"returnCode":{}}
--   connect-noop   POST /latchkey.bench.v1.BenchService/Noop         {"userId":ID}
--   rest-reset     POST /v2/users/ID/password_reset                  {"returnCode":{}}
--   rest-noop      POST /bench/v1/noop/ID                            {}
--   peer-reset     POST /api/auth/request-password-reset             {"email":EMAIL}
-- Arguments after `--`: <ids file> <shape> <bearer token or -> [<requests per second>]
-- With BENCH_WRK_HISTOGRAM=1 in the environment, done() also prints every
-- recorded latency and its count, so the histograms of several wrk processes
-- sharing one load can be merged. (done() runs in wrk's main Lua state, which
-- never sees init()'s arguments; the environment reaches every state.)
-- With a rate, delay() spaces the sends of this (single) thread on a fixed
-- schedule, rate/s in all, whichever connection is free; latency counts from
-- the actual send, so unlike wrk2 it is not corrected for coordinated omission.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local ids = {}
local shape, headers
local interval, next_at
local histogram = os.getenv("BENCH_WRK_HISTOGRAM") == "1"

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then ids[#ids + 1] = line end
  end
  shape = args[2]
  headers = { ["Content-Type"] = "application/json" }
  if args[3] and args[3] ~= "-" then headers["Authorization"] = "Bearer " .. args[3] end
  local rate = tonumber(args[4] or "0")
  if rate and rate > 0 then interval = 1000 / rate end
  math.randomseed(tonumber(tostring(os.time()):reverse():sub(1, 6)))
end

function request()
  local id = ids[math.random(#ids)]
  if shape == "connect-reset" then
    return wrk.format("POST", "/zitadel.user.v2.UserService/PasswordReset", headers, '{"userId":"' .. id .. '","returnCode":{}}')
  elseif shape == "connect-noop" then
    return wrk.format("POST", "/latchkey.bench.v1.BenchService/Noop", headers, '{"userId":"' .. id .. '"}')
  elseif shape == "rest-reset" then
    return wrk.format("POST", "/v2/users/" .. id .. "/password_reset", headers, '{"returnCode":{}}')
  elseif shape == "rest-noop" then
    return wrk.format("POST", "/bench/v1/noop/" .. id, headers, "{}")
  elseif shape == "peer-reset" then
    return wrk.format("POST", "/api/auth/request-password-reset", headers, '{"email":"' .. id .. '"}')
  end
  error("unknown shape " .. tostring(shape))
end

function delay()
  if not interval then return 0 end
  local t = now_ms()
  if not next_at or next_at < t - 1000 then next_at = t end
  next_at = next_at + interval
  local d = next_at - t
  if d < 0 then return 0 end
  return d
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  if histogram then
    local parts = {}
    for i = 1, #latency do
      local value, count = latency(i)
      parts[#parts + 1] = string.format("[%d,%d]", value, count)
    end
    io.write("WRKHIST [" .. table.concat(parts, ",") .. "]\n")
  end
end
