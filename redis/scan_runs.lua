-- scan_runs.lua — the records of the last N runs of a pipeline, oldest
-- run first, in one round trip (redis/SCHEMA.md; store_redis.c).
--
-- ARGV: 1 prefix, 2 pipeline, 3 N (0 = every run).
-- Returns a flat array of JSON texts, in order: each is the `b` field of
-- one of the runs' records stream entries (an array of that run's
-- records), or, for a run written before entry lists existed, one record
-- of its `runrecs` list.
local P = ARGV[1]
local n = tonumber(ARGV[3])
local ids = redis.call('ZREVRANGE', P .. 'runs:' .. ARGV[2], 0, n - 1)
local out = {}
for i = #ids, 1, -1 do
	local es = redis.call('LRANGE', P .. 'runentries:' .. ids[i], 0, -1)
	if #es == 0 then
		for _, r in ipairs(redis.call('LRANGE', P .. 'runrecs:' .. ids[i], 0, -1)) do out[#out + 1] = r end
	end
	for _, e in ipairs(es) do
		local x = redis.call('XRANGE', P .. 'records', e, e)
		if x[1] then
			local f = x[1][2]
			for k = 1, #f - 1, 2 do
				if f[k] == 'b' then out[#out + 1] = f[k + 1] end
			end
		end
	end
end
return out
