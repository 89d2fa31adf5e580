-- The ceiling: GET / on the constant server (same headers as the API runs).
dofile(os.getenv("RAPPORT_BENCH_DIR") .. "/common.lua")
