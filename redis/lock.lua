-- lock.lua — take the lock NAME if it is free and no older waiter is
-- queued (redis/SCHEMA.md; called by store_redis.c).  The fencing token is
-- taken from the per-name counter in the same call, so tokens grow
-- strictly across every holder.
--
-- ARGV: 1 prefix, 2 name, 3 ttl ms, 4 holder (JSON object), 5 secret,
-- 6 waiter id ('' = do not queue), 7 waiter heartbeat ms.
-- Returns {1, token} when taken, {0, holder JSON or ''} when busy.
local P, name = ARGV[1], ARGV[2]
local lk, info = P .. 'lock:' .. name, P .. 'lockinfo:' .. name
local q, hb = P .. 'lockq:' .. name, P .. 'lockhb:' .. name
local waiter = ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- the oldest live waiter; waiters whose heartbeat lapsed are dropped
local head = nil
while true do
	local h = redis.call('ZRANGE', q, 0, 0)
	if #h == 0 then break end
	local dl = tonumber(redis.call('HGET', hb, h[1]) or '0')
	if dl < now then
		redis.call('ZREM', q, h[1])
		redis.call('HDEL', hb, h[1])
	else
		head = h[1]
		break
	end
end

if redis.call('EXISTS', lk) == 1 or (head and head ~= waiter) then
	if waiter ~= '' then
		if not redis.call('ZSCORE', q, waiter) then
			redis.call('ZADD', q, redis.call('INCR', P .. 'lockqseq:' .. name), waiter)
		end
		redis.call('HSET', hb, waiter, now + tonumber(ARGV[7]))
		redis.call('PEXPIRE', q, 3600000)
		redis.call('PEXPIRE', hb, 3600000)
	end
	local cur = redis.call('GET', info)
	if not cur then
		cur = cjson.encode({queued = redis.call('ZCARD', q)})
	end
	return {0, cur}
end

local token = redis.call('INCR', P .. 'fence:' .. name)
local holder = cjson.decode(ARGV[4])
holder.token = token
redis.call('SET', lk, token .. ':' .. ARGV[5], 'PX', ARGV[3])
redis.call('SET', info, cjson.encode(holder), 'PX', ARGV[3])
if waiter ~= '' then
	redis.call('ZREM', q, waiter)
	redis.call('HDEL', hb, waiter)
end
return {1, token}
