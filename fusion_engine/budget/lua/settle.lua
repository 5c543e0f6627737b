-- Record a hold's real cost and drop the hold. Idempotent per hold id; works after the
-- lease expired (the spend is real whether or not the hold is still there).
-- KEYS: 1 daily spent, 2 monthly spent, 3 hold amounts hash, 4 hold leases zset,
--       5 settled marker, 6 tenants set
-- ARGV: 1 hold id, 2 actual micros, 3 daily ttl s, 4 monthly ttl s, 5 marker ttl s, 6 tenant
-- Returns 1 the first time, 0 on repeats.
if redis.call('EXISTS', KEYS[5]) == 1 then
  return 0
end
local actual = tonumber(ARGV[2])
redis.call('SET', KEYS[5], actual, 'EX', ARGV[5])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if actual > 0 then
  redis.call('INCRBY', KEYS[1], actual)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('INCRBY', KEYS[2], actual)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
redis.call('SADD', KEYS[6], ARGV[6])
return 1
