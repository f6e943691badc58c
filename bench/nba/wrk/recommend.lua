-- wrk script: GET /v1/customers/<id>/recommendations?limit=3&channel=app for a customer id drawn
-- uniformly from 1..N on every request, with `Authorization: Bearer <KEY>`.
--
--   wrk -t2 -c16 -d20s --latency -s bench/nba/wrk/recommend.lua http://127.0.0.1:PORT -- N KEY
--
-- N and KEY may also come from the environment (WRK_CUSTOMERS, WRK_KEY); the arguments win.
-- Every non-2xx response is counted (per thread, summed in done()) and printed, together with
-- wrk's socket errors, so a run full of errors cannot pass as fast. done() prints one line
--   BENCH_RESULT requests=… duration_s=… rps=… p50_ms=… p90_ms=… p99_ms=… max_ms=… non2xx=… socket_errors=…
-- that bench/nba/run.sh parses.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_no", counter)
   table.insert(threads, thread)
end

function init(args)
   n_customers = tonumber(args[1] or os.getenv("WRK_CUSTOMERS") or "")
   local key = args[2] or os.getenv("WRK_KEY")
   if not n_customers or n_customers < 1 then
      error("recommend.lua: give the number of customers: wrk ... -- N KEY (or WRK_CUSTOMERS)")
   end
   if not key or key == "" then
      error("recommend.lua: give the API key: wrk ... -- N KEY (or WRK_KEY)")
   end
   headers = { ["Authorization"] = "Bearer " .. key }
   non2xx = 0
   status_counts = {}
   -- reproducible but different per thread
   math.randomseed(42 + 7919 * (thread_no or 0))
end

function request()
   local id = math.random(1, n_customers)
   return wrk.format("GET", "/v1/customers/" .. id .. "/recommendations?limit=3&channel=app", headers)
end

function response(status, hdrs, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      status_counts[status] = (status_counts[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   local by_status = {}
   for _, t in ipairs(threads) do
      bad = bad + (t:get("non2xx") or 0)
      local sc = t:get("status_counts")
      if sc then
         for code, n in pairs(sc) do
            by_status[code] = (by_status[code] or 0) + n
         end
      end
   end
   local e = summary.errors
   local socket_errors = e.connect + e.read + e.write + e.timeout
   local secs = summary.duration / 1e6
   local statuses = {}
   for code, n in pairs(by_status) do
      table.insert(statuses, code .. ":" .. n)
   end
   table.sort(statuses)
   io.write(string.format("non-2xx responses: %d%s\n", bad,
      #statuses > 0 and (" (" .. table.concat(statuses, ",") .. ")") or ""))
   io.write(string.format(
      "socket errors: connect %d, read %d, write %d, timeout %d\n",
      e.connect, e.read, e.write, e.timeout))
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, bad, socket_errors))
end
