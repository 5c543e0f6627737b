-- Extend a job's run lock only if this attempt still owns it.
-- KEYS: 1 lock   ARGV: 1 owner token, 2 ttl in milliseconds
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
