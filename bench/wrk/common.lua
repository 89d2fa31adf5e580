-- Shared by the API benchmark's wrk scripts: the key from RAPPORT_BENCH_KEY, JSON bodies, and a
-- per-thread prefix so threads never send the same order id.
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("RAPPORT_BENCH_KEY") or "")
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  thread:set("prefix", string.format("%d-%d", os.time(), #threads))
  table.insert(threads, thread)
end

counter = 0
function purchase(n)
  -- 50,000 customers per thread: early requests create customers, later ones add to them.
  return string.format(
    '{"customer_id":"W%s-%d","kind":"purchase","amount":"12.50","order_id":"w%s-%d","occurred_at":"2026-11-01"}',
    prefix, n % 50000, prefix, n)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
