-- One GCRA step of dev.sluice.RateLimitStore, atomically (a script runs alone on its shard):
--   tat = max(stored, now); newTat = tat + increment
--   if newTat - now <= tolerance: stored = newTat, allowed
--   else: refused, stored unchanged
-- exactly as the in-memory store and sluice.rate_limit_acquire in PostgreSQL do it.
--
-- KEYS[1]  the key's TAT: nanoseconds as a signed decimal string, its TTL the time until the
--          bucket is full again (an absent key counts as now, a full bucket).
-- ARGV     increment and tolerance in nanoseconds, each as two integers (see below); then,
--          only from tests, the time to use in the same form instead of the server's clock.
-- Returns  {allowed 0|1, tat high, tat low, now high, now low}: the TAT after the step and the
--          time used.
--
-- Redis Lua numbers are doubles, exact only up to 2^53, and nanoseconds since 1970 are near
-- 2^61. So every time is carried as a pair (high, low) = high * 1e9 + low with 0 <= low < 1e9,
-- and only added, subtracted and compared: every intermediate value stays an exact integer, and
-- the results equal the 64-bit arithmetic of the other stores bit for bit.
local B = 1000000000

local function add(ah, al, bh, bl)
  local h, l = ah + bh, al + bl
  if l >= B then return h + 1, l - B end
  return h, l
end

local function sub(ah, al, bh, bl)
  local h, l = ah - bh, al - bl
  if l < 0 then return h - 1, l + B end
  return h, l
end

local function less(ah, al, bh, bl)
  return ah < bh or (ah == bh and al < bl)
end

local function parse(s)
  local neg = string.sub(s, 1, 1) == '-'
  if neg then s = string.sub(s, 2) end
  local n = #s
  local h, l = 0, tonumber(s)
  if n > 9 then
    h, l = tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
  end
  if not neg then return h, l end
  if l > 0 then return -h - 1, B - l end
  return -h, 0
end

local function format(h, l)
  local sign = ''
  if h < 0 then
    sign = '-'
    if l > 0 then h, l = -h - 1, B - l else h = -h end
  end
  if h == 0 then return sign .. string.format('%.0f', l) end
  return sign .. string.format('%.0f%09.0f', h, l)
end

local ih, il = tonumber(ARGV[1]), tonumber(ARGV[2])
local th, tl = tonumber(ARGV[3]), tonumber(ARGV[4])
local nh, nl
if ARGV[5] then
  nh, nl = tonumber(ARGV[5]), tonumber(ARGV[6])
else
  -- The server's clock, shared by every instance: seconds and microseconds since 1970.
  local t = redis.call('TIME')
  nh, nl = tonumber(t[1]), tonumber(t[2]) * 1000
end

local ah, al = nh, nl
local stored = redis.call('GET', KEYS[1])
if stored then
  local sh, sl = parse(stored)
  if less(nh, nl, sh, sl) then ah, al = sh, sl end
end

local newh, newl = add(ah, al, ih, il)
local dh, dl = sub(newh, newl, nh, nl)
if less(th, tl, dh, dl) then
  return {0, ah, al, nh, nl}
end

-- Until newTat the key owes time; from then on its bucket is full and forgetting it changes
-- nothing. Rounded up to a millisecond, plus one: the expiry counts from when the script
-- started, a moment before TIME was read. With a time from a test the expiry would count real
-- time against that time, so such keys live at least an hour.
local ttl = dh * 1000 + math.ceil(dl / 1000000) + 1
if ARGV[5] and ttl < 3600000 then ttl = 3600000 end
redis.call('SET', KEYS[1], format(newh, newl), 'PX', ttl)
return {1, newh, newl, nh, nl}
