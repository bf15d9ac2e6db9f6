-- scan_runs.lua — the records of the last N runs of a pipeline, oldest
-- run first, in one round trip (redis/SCHEMA.md; store_redis.c).
--
-- ARGV: 1 prefix, 2 pipeline, 3 N (0 = every run).
-- Returns a flat array of JSON records.
local P = ARGV[1]
local n = tonumber(ARGV[3])
local ids = redis.call('ZREVRANGE', P .. 'runs:' .. ARGV[2], 0, n - 1)
local out = {}
for i = #ids, 1, -1 do
	local recs = redis.call('LRANGE', P .. 'runrecs:' .. ids[i], 0, -1)
	for _, r in ipairs(recs) do out[#out + 1] = r end
end
return out
