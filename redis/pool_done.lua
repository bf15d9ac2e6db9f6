-- pool_done.lua — a worker hands in the result of a job, or hands the job
-- back (redis/SCHEMA.md, "Worker pool"): accepted only while its fence
-- holds the lease; then the result goes to the run's event stream, the
-- lease is released and the queue entry acknowledged and deleted, in one
-- step.  A late result (the lease was lost, the job given to another) is
-- refused, and said so in the run's stream.
--
-- ARGV: 1 prefix, 2 run, 3 job, 4 attempt, 5 fence, 6 worker, 7 queue key,
-- 8 entry id, 9 'done' or 'lost', 10 the result (JSON) or why it was lost.
-- Returns 1 accepted, 0 refused.
local P, run, job = ARGV[1], ARGV[2], ARGV[3]
local k = P .. 'pool:lease:' .. run .. ':' .. job
local ev = P .. 'pool:run:' .. run
if redis.call('GET', k) ~= ARGV[5] .. ' ' .. ARGV[6] then
	redis.call('XADD', ev, '*', 'e', 'refused', 'job', job, 'attempt', ARGV[4], 'fence', ARGV[5], 'worker', ARGV[6])
	redis.call('HINCRBY', P .. 'pool:stats', 'refused', 1)
	return 0
end
redis.call('XADD', ev, '*', 'e', ARGV[9], 'job', job, 'attempt', ARGV[4], 'fence', ARGV[5], 'worker', ARGV[6],
	'r', ARGV[10])
redis.call('DEL', k)
redis.call('XACK', ARGV[7], 'workers', ARGV[8])
redis.call('XDEL', ARGV[7], ARGV[8])
return 1
