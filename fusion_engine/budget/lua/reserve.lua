-- Reserve a hold for a quote, atomically, if both windows can cover it. A live hold asked for
-- a larger amount grows: only the increase is checked against the limits (the rest is already
-- held), and a refusal leaves the hold as it was. Equal or smaller renews the lease.
-- KEYS: 1 limits hash, 2 daily spent, 3 monthly spent, 4 hold amounts hash,
--       5 hold leases zset, 6 settled marker, 7 tenants set
-- ARGV: 1 hold id, 2 micros, 3 lease expiry (epoch ms), 4 now (epoch ms),
--       5 default daily limit, 6 default monthly limit, 7 tenant
-- Returns {code, daily_limit, monthly_limit, daily_spent, monthly_spent, held, was_held}
--   was_held: the hold's amount before this call (-1 when there was no live hold)
--   code: 0 held now, 1 hold already live (lease renewed), 2 already settled, 3 hold grown,
--        -1 daily limit would be exceeded, -2 monthly limit would be exceeded
local hold_id = ARGV[1]
local micros = tonumber(ARGV[2])

local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[4])
for _, id in ipairs(expired) do
  redis.call('HDEL', KEYS[4], id)
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[4])
end

local limits = redis.call('HMGET', KEYS[1], 'daily', 'monthly')
local daily_limit = tonumber(limits[1] or ARGV[5])
local monthly_limit = tonumber(limits[2] or ARGV[6])
local daily_spent = tonumber(redis.call('GET', KEYS[2]) or '0')
local monthly_spent = tonumber(redis.call('GET', KEYS[3]) or '0')

local function held_total()
  local total = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[4])) do
    total = total + tonumber(v)
  end
  return total
end

local code
local current = tonumber(redis.call('HGET', KEYS[4], hold_id) or '-1')
if redis.call('EXISTS', KEYS[6]) == 1 then
  code = 2
elseif current >= micros then
  redis.call('ZADD', KEYS[5], ARGV[3], hold_id)
  code = 1
else
  local held = held_total()
  local increase = micros - math.max(current, 0)
  if daily_spent + held + increase > daily_limit then
    code = -1
  elseif monthly_spent + held + increase > monthly_limit then
    code = -2
  else
    redis.call('HSET', KEYS[4], hold_id, micros)
    redis.call('ZADD', KEYS[5], ARGV[3], hold_id)
    code = current >= 0 and 3 or 0
  end
end
redis.call('SADD', KEYS[7], ARGV[7])
return {code, daily_limit, monthly_limit, daily_spent, monthly_spent, held_total(), current}
