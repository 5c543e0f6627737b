-- Claim the pending jobs whose lease lapsed: push each lease forward, so one reaper acts on a
-- job per lapse (another reaper finds nothing), and return their keys.
-- KEYS: 1 pending zset   ARGV: 1 now (epoch ms), 2 new lease expiry (epoch ms), 3 at most
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, key in ipairs(keys) do
  redis.call('ZADD', KEYS[1], ARGV[2], key)
end
return keys
