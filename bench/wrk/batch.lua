-- POST /api/v1/events/batch: BATCH purchases per request (default 1,000), every order id new.
dofile(os.getenv("RAPPORT_BENCH_DIR") .. "/common.lua")
local size = tonumber(os.getenv("RAPPORT_BENCH_BATCH") or "1000")
request = function()
  local events = {}
  for i = 1, size do
    counter = counter + 1
    events[i] = purchase(counter)
  end
  return wrk.format("POST", nil, nil, '{"events":[' .. table.concat(events, ",") .. ']}')
end
