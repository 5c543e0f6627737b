-- Accept a job: set its dedupe marker and make it pending, in one step (accepted => pending).
-- KEYS: 1 accepted marker, 2 pending zset, 3 the job's pending hash
-- ARGV: 1 job key, 2 job JSON, 3 marker ttl (s), 4 lease expiry (epoch ms)
-- Returns 1 when accepted now, 0 when the key was already accepted (a retried delivery).
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[3], 'job', ARGV[2], 'reaps', 0)
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
