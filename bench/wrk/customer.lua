-- GET /api/v1/customers/{id} for random customers of the generated shop (C0000000..C0999999).
dofile(os.getenv("RAPPORT_BENCH_DIR") .. "/common.lua")
local customers = tonumber(os.getenv("RAPPORT_BENCH_CUSTOMERS") or "1000000")
request = function()
  return wrk.format("GET", string.format("/api/v1/customers/C%07d", math.random(0, customers - 1)))
end
