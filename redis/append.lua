-- append.lua — record a batch of records and keep the schema's structured
-- keys up to date (redis/SCHEMA.md; called by store_redis.c).  One call is
-- one group commit: every record of the batch lands in the records stream,
-- in order, or nothing does.
--
-- ARGV: 1 prefix, 2 lock name ('' = not fenced), 3 fencing token, 4 lock
-- secret ('' = compare the token only), 5 batch id, then three lists,
-- each a count followed by its items:
--  - S segments: run id ('' = records of no run), the segment's records as
--    one JSON array.  A segment is a maximal sequence of consecutive
--    records of the same run (run/run_end by id, attempt/job by run); each
--    is one entry of the records stream, and its id is pushed on the run's
--    entry list.  Every record's JSON is sent once, here.
--  - D pipelines with job durations: the pipeline, M, then M pairs: the
--    job and the duration_ms of each successful job record of the
--    pipeline in the batch, in order; one entry of the pipeline's job
--    durations stream (grouped by the client, no Lua work per pair);
--  - K other records (every type but attempt and job): type, run,
--    pipeline, json, F, then F pairs: for run and run_end records, the
--    record's scalar fields (field, value as str() below writes it; the
--    type field t left out), flattened by the client so that they need no
--    decoding here; F is 0 for the rarer others, which are decoded.
-- So the hot path (attempt and job records) costs no Lua work per record.
-- The batch id makes a resend idempotent: a client whose connection broke
-- before the reply sends the same batch with the same id again, and a batch
-- already applied is answered 0 without writing it twice.
-- Returns the id of the last records stream entry, 0 for a batch applied
-- before, or -1 when the fenced write is refused (the token does not hold
-- the lock).
local P = ARGV[1]

-- a key component that is not the last one: % : and control bytes escaped
local function esc(s)
	return (string.gsub(s, '[%%:%c]', function(c) return string.format('%%%02X', string.byte(c)) end))
end

local function str(v)
	if type(v) == 'number' then
		if v == math.floor(v) and math.abs(v) < 1e15 then return string.format('%d', v) end
		return string.format('%.17g', v)
	elseif type(v) == 'boolean' then
		return v and 'true' or 'false'
	end
	return v
end

-- HSET of the scalar fields of a decoded record (nested values skipped)
local function hset_scalars(key, rec)
	local a = {}
	for k, v in pairs(rec) do
		local tv = type(v)
		if k ~= 't' and (tv == 'string' or tv == 'number' or tv == 'boolean') then
			a[#a + 1] = k
			a[#a + 1] = str(v)
		end
	end
	if #a > 0 then redis.call('HSET', key, unpack(a)) end
end

local function event(t, js)
	redis.call('XADD', P .. 'events', 'MAXLEN', '~', 10000, '*', 't', t, 'r', js)
end

if ARGV[2] ~= '' then
	local v = redis.call('GET', P .. 'lock:' .. ARGV[2])
	local want = ARGV[3] .. ':'
	if not v or string.sub(v, 1, #want) ~= want or (ARGV[4] ~= '' and v ~= want .. ARGV[4]) then
		return -1
	end
end

if not redis.call('SET', P .. 'batch:' .. ARGV[5], '1', 'NX', 'PX', 86400000) then
	return 0
end

-- the segments first: the records stream, and each run's entry list
local b = 6
local nseg = tonumber(ARGV[b])
local last = 0
for i = 1, nseg do
	local run, js = ARGV[b + 2 * i - 1], ARGV[b + 2 * i]
	last = redis.call('XADD', P .. 'records', '*', 'b', js)
	if run ~= '' then redis.call('RPUSH', P .. 'runentries:' .. run, last) end
end
b = b + 2 * nseg + 1

-- job durations: one stream entry per pipeline and batch
local npl = tonumber(ARGV[b])
b = b + 1
for _ = 1, npl do
	local pl, m = ARGV[b], tonumber(ARGV[b + 1])
	redis.call('XADD', P .. 'jobdurations:' .. pl, 'MAXLEN', '~', 10000, '*', unpack(ARGV, b + 2, b + 1 + 2 * m))
	b = b + 2 + 2 * m
end

-- run_end records per pipeline, folded into its health hash
local health, healthpl = {}, {}
-- a run or run_end record's scalar fields come flattened by the client
-- (field, value as str() writes it, at ARGV[p0 .. p1]): no JSON decoding
local function flat(p0, p1)
	local rec = {}
	for j = p0, p1, 2 do rec[ARGV[j]] = ARGV[j + 1] end
	return rec
end

local n = tonumber(ARGV[b])
local k = b + 1
for _ = 1, n do
	local t, run, pl, js = ARGV[k], ARGV[k + 1], ARGV[k + 2], ARGV[k + 3]
	local p0 = k + 5
	local p1 = p0 + 2 * tonumber(ARGV[k + 4]) - 1
	k = p1 + 1
	if t == 'run' then
		local rec = flat(p0, p1)
		if run ~= '' then
			local key = P .. 'run:' .. run
			if p1 >= p0 then redis.call('HSET', key, unpack(ARGV, p0, p1)) end
			redis.call('HSETNX', key, 'status', 'running')
			if pl ~= '' then
				redis.call('ZADD', P .. 'runs:' .. pl, tonumber(rec.start_ms) or 0, run)
				redis.call('SADD', P .. 'pipelines', pl)
			end
		end
		event(t, js)
	elseif t == 'run_end' then
		local rec = flat(p0, p1)
		if run ~= '' then
			local key = P .. 'run:' .. run
			if p1 >= p0 then redis.call('HSET', key, unpack(ARGV, p0, p1)) end
			if pl == '' then pl = redis.call('HGET', key, 'pipeline') or '' end
		end
		if pl ~= '' then
			-- health: summed per pipeline, applied once per batch below
			local h = health[pl]
			if not h then
				h = {runs = 0, ok = 0, bad = 0, durs = {}}
				health[pl] = h
				healthpl[#healthpl + 1] = pl
			end
			h.runs = h.runs + 1
			h.status = str(rec.status or 'unknown')
			if h.status == 'success' then h.ok = h.ok + 1 else h.bad = h.bad + 1 end
			h.durs[#h.durs + 1] = str(tonumber(rec.duration_ms) or 0)
			h.at = str(tonumber(rec.end_ms) or 0)
			h.run = run
		end
		event(t, js)
	elseif t == 'deployment' then
		local rec = cjson.decode(js)
		local id = str(rec.id or '')
		if id ~= '' then
			local key = P .. 'deployment:' .. id
			hset_scalars(key, rec)
			redis.call('HSETNX', key, 'state', 'started')
			local at = tonumber(rec.start_ms) or 0
			redis.call('ZADD', P .. 'deployments', at, id)
			if type(rec.app) == 'string' and type(rec.env) == 'string' then
				redis.call('ZADD', P .. 'deployments:' .. esc(rec.app) .. ':' .. rec.env, at, id)
			end
		end
		event(t, js)
	elseif t == 'transition' then
		local rec = cjson.decode(js)
		local id = str(rec.deployment or '')
		local state = str(rec.state or '')
		if id ~= '' then
			local key = P .. 'deployment:' .. id
			redis.call('HSET', key, 'state', state, 'updated_ms', str(tonumber(rec.at_ms) or 0))
			redis.call('RPUSH', P .. 'transitions:' .. id, js)
			if state == 'succeeded' or state == 'rolled_back' then
				local d = redis.call('HMGET', key, 'app', 'env', 'version', 'previous', 'kind')
				local app, env, ver, prev, kind = d[1], d[2], d[3], d[4], d[5]
				local now = ver
				if state == 'rolled_back' then now = prev end
				if app and env then
					local ae = esc(app) .. ':' .. env
					if now and now ~= '' then redis.call('SET', P .. 'current:' .. ae, now) end
					redis.call('RPUSH', P .. 'history:' .. ae, cjson.encode({deployment = id,
						kind = kind or 'deploy', state = state, version = now or '',
						attempted = ver or '', previous = prev or '', at_ms = tonumber(rec.at_ms) or 0}))
				end
			end
		end
		event(t, js)
	elseif t == 'check' then
		local rec = cjson.decode(js)
		local id = str(rec.deployment or '')
		if id ~= '' then redis.call('RPUSH', P .. 'checks:' .. id, js) end
		event(t, js)
	elseif t == 'event' then
		event(t, js)
	end
end

-- health: a few calls per pipeline and batch; p50/p95 over the last 100
-- runs (nearest rank)
for _, pl in ipairs(healthpl) do
	local h, key, dk = health[pl], P .. 'health:' .. pl, P .. 'rundur:' .. pl
	local runs_n = redis.call('HINCRBY', key, 'runs', h.runs)
	local ok = redis.call('HINCRBY', key, 'succeeded', h.ok)
	redis.call('HINCRBY', key, 'failed', h.bad)
	local len = math.min(redis.call('LPUSH', dk, unpack(h.durs)), 100)
	redis.call('LTRIM', dk, 0, 99)
	-- the value at a rank of the window, sorted numerically by the server
	-- (its values are numbers as str() writes them, returned as they are)
	local function at(q)
		return redis.call('SORT', dk, 'LIMIT', math.max(1, math.ceil(len * q)) - 1, 1)[1]
	end
	redis.call('HSET', key, 'success_rate', string.format('%.4f', ok / runs_n), 'last_status', h.status,
		'last_run_at', h.at, 'last_run', h.run, 'p50_ms', at(0.50), 'p95_ms', at(0.95))
end

return last
