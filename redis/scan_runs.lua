-- scan_runs.lua — the records of the last N runs of a pipeline, oldest
-- run first, in one round trip (redis/SCHEMA.md; store_redis.c).
--
-- ARGV: 1 prefix, 2 pipeline ("" = the last N runs of every pipeline
-- together, by start time), 3 N (0 = every run).
-- Returns a flat array of JSON texts, in order: each is the `b` field of
-- one of the runs' records stream entries (an array of that run's
-- records), or, for a run written before entry lists existed, one record
-- of its `runrecs` list.
local P = ARGV[1]
local n = tonumber(ARGV[3])
local ids
if ARGV[2] ~= '' then
	ids = redis.call('ZREVRANGE', P .. 'runs:' .. ARGV[2], 0, n - 1)
else
	-- the newest N of each pipeline hold the newest N of all
	local all = {}
	for _, pl in ipairs(redis.call('SMEMBERS', P .. 'pipelines')) do
		local r = redis.call('ZREVRANGE', P .. 'runs:' .. pl, 0, n - 1, 'WITHSCORES')
		for k = 1, #r - 1, 2 do all[#all + 1] = {r[k], tonumber(r[k + 1])} end
	end
	table.sort(all, function(a, b)
		if a[2] ~= b[2] then return a[2] > b[2] end
		return a[1] > b[1]
	end)
	ids = {}
	for k = 1, math.min(#all, n > 0 and n or #all) do ids[k] = all[k][1] end
end
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
