-- pool_take.lua — a worker takes a job it read from a pool queue
-- (redis/SCHEMA.md, "Worker pool"): a new fencing number, the lease, and
-- the start event for the run's owner, in one step.
--
-- ARGV: 1 prefix, 2 run, 3 job, 4 attempt, 5 worker, 6 lease ms,
-- 7 pickup bucket (le), 8 pickup ms.
-- Returns the fence, or -1 when the run was cancelled (take nothing).
local P, run, job = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', P .. 'pool:cancel:' .. run) == 1 then
	return -1
end
local fence = redis.call('INCR', P .. 'pool:fence')
redis.call('SET', P .. 'pool:lease:' .. run .. ':' .. job, fence .. ' ' .. ARGV[5], 'PX', ARGV[6])
redis.call('XADD', P .. 'pool:run:' .. run, '*', 'e', 'start', 'job', job, 'attempt', ARGV[4], 'fence', fence,
	'worker', ARGV[5], 'pickup_ms', ARGV[8])
redis.call('HINCRBY', P .. 'pool:pickup', ARGV[7], 1)
redis.call('HINCRBYFLOAT', P .. 'pool:pickup', 'sum_ms', ARGV[8])
redis.call('HINCRBY', P .. 'pool:pickup', 'count', 1)
return fence
