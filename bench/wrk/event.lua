-- POST /api/v1/events: one purchase per request, each with a new order id.
dofile(os.getenv("RAPPORT_BENCH_DIR") .. "/common.lua")
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, nil, purchase(counter))
end
