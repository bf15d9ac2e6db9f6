-- pool_renew.lua — a worker renews the lease of a job it runs, only while
-- its fence still holds it (redis/SCHEMA.md, "Worker pool").
--
-- ARGV: 1 prefix, 2 run, 3 job, 4 fence, 5 worker, 6 lease ms.
-- Returns 0: the lease is lost (the job was given to another); 1: renewed;
-- 2: renewed, and the run's owner cancels (TERM); 3: cancels now (KILL).
local P, run = ARGV[1], ARGV[2]
local k = P .. 'pool:lease:' .. run .. ':' .. ARGV[3]
if redis.call('GET', k) ~= ARGV[4] .. ' ' .. ARGV[5] then
	return 0
end
redis.call('PEXPIRE', k, ARGV[6])
local c = redis.call('GET', P .. 'pool:cancel:' .. run)
if c == 'kill' then
	return 3
elseif c then
	return 2
end
return 1
