-- A tenant's limits, spend and live holds, read in one consistent step.
-- KEYS: 1 limits hash, 2 daily spent, 3 monthly spent, 4 hold amounts hash, 5 hold leases zset
-- ARGV: 1 now (epoch ms), 2 default daily limit, 3 default monthly limit
-- Returns {daily_limit, monthly_limit, daily_spent, monthly_spent, held}
local limits = redis.call('HMGET', KEYS[1], 'daily', 'monthly')
local live = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. ARGV[1], '+inf')
local held = 0
if #live > 0 then
  for _, v in ipairs(redis.call('HMGET', KEYS[4], unpack(live))) do
    held = held + tonumber(v or '0')
  end
end
return {
  tonumber(limits[1] or ARGV[2]),
  tonumber(limits[2] or ARGV[3]),
  tonumber(redis.call('GET', KEYS[2]) or '0'),
  tonumber(redis.call('GET', KEYS[3]) or '0'),
  held,
}
