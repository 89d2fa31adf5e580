-- GET /api/v1/customers/{id} for random customers of the generated shop (C0000000..C0999999).
-- RAPPORT_BENCH_DELAY_MS paces each connection (wrk's delay()): connections / (latency + delay)
-- sets the request rate, for latencies at a given rate rather than at saturation.
dofile(os.getenv("RAPPORT_BENCH_DIR") .. "/common.lua")
local customers = tonumber(os.getenv("RAPPORT_BENCH_CUSTOMERS") or "1000000")
local pause = tonumber(os.getenv("RAPPORT_BENCH_DELAY_MS") or "0")
request = function()
  return wrk.format("GET", string.format("/api/v1/customers/C%07d", math.random(0, customers - 1)))
end
if pause > 0 then
  delay = function() return pause end
end
