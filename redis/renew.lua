-- renew.lua — extend or release the lock NAME, only while TOKEN (and the
-- secret, when given) still holds it (redis/SCHEMA.md; store_redis.c).
--
-- ARGV: 1 prefix, 2 name, 3 token, 4 secret ('' = compare the token
-- only), 5 ttl ms, or 0 to release (compare-and-delete).
-- Returns 1 when held (and extended or released), 0 when not held.
local P, name = ARGV[1], ARGV[2]
local lk, info = P .. 'lock:' .. name, P .. 'lockinfo:' .. name
local v = redis.call('GET', lk)
local want = ARGV[3] .. ':'
if not v or string.sub(v, 1, #want) ~= want or (ARGV[4] ~= '' and v ~= want .. ARGV[4]) then
	return 0
end
if ARGV[5] == '0' then
	redis.call('DEL', lk, info)
else
	redis.call('PEXPIRE', lk, ARGV[5])
	redis.call('PEXPIRE', info, ARGV[5])
end
return 1
