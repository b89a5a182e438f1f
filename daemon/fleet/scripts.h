#pragma once
// The fleet's two Lua scripts, run by Redis atomically (docs/FLEET.md). Every key a script
// touches is one counter-window of one tenant: a hash with one field per host (that host's
// absolute contribution) and `_total` (their sum, kept by applying differences). Host ids start
// with a letter or digit, so `_total` is never one of them. Lua counts in doubles: figures are
// exact up to 2^53, and differences go to HINCRBY through '%d' (Lua's own "%.14g" would write
// 1e+14 as a float that HINCRBY refuses).

namespace tenantd::fleet {

// KEYS: the counters. ARGV: host, then per key value, previous, expireAtMs (0: never).
// Sets this host's field to `value` (absolute: a resend changes nothing), moves `_total` by the
// difference, and returns each key's total, then how many keys had lost this host's field
// although it had sent one (`previous` > 0): Redis lost data, so the host resends everything.
inline constexpr const char* FLUSH_SCRIPT = R"lua(
local host = ARGV[1]
local out = {}
local lost = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local value = tonumber(ARGV[3 * i - 1])
  local previous = tonumber(ARGV[3 * i])
  local expireAt = ARGV[3 * i + 1]
  local held = redis.call('HGET', key, host)
  if held == false and previous ~= 0 then lost = lost + 1 end
  local old = tonumber(held or '0')
  local total
  if old ~= value then
    -- The total first: if it cannot move, the field stays as it was, and the next flush retries.
    total = redis.call('HINCRBY', key, '_total', string.format('%d', value - old))
    redis.call('HSET', key, host, ARGV[3 * i - 1])
  else
    total = tonumber(redis.call('HGET', key, '_total') or '0')
  end
  if expireAt ~= '0' and (value ~= 0 or total ~= 0) then redis.call('PEXPIREAT', key, expireAt) end
  out[i] = total
end
out[#KEYS + 1] = lost
return out
)lua";

// KEYS: the counters a strict call applies to. ARGV: host, amount, then per key limit (-1: not
// a block rule, never refuses) and expireAtMs. Checks every key first; adds to all of them only
// if none refuses. Returns {allowed, totals..., this host's fields...}: the totals after the add
// (before it when refused).
inline constexpr const char* STRICT_SCRIPT = R"lua(
local host = ARGV[1]
local amount = tonumber(ARGV[2])
local n = #KEYS
local totals = {}
local allowed = 1
for i = 1, n do
  totals[i] = tonumber(redis.call('HGET', KEYS[i], '_total') or '0')
  local limit = tonumber(ARGV[1 + 2 * i])
  if limit >= 0 and totals[i] + amount > limit then allowed = 0 end
end
local out = {allowed}
for i = 1, n do
  if allowed == 1 then
    redis.call('HINCRBY', KEYS[i], host, ARGV[2])
    totals[i] = redis.call('HINCRBY', KEYS[i], '_total', ARGV[2])
    local expireAt = ARGV[2 + 2 * i]
    if expireAt ~= '0' then redis.call('PEXPIREAT', KEYS[i], expireAt) end
  end
  out[1 + i] = totals[i]
end
for i = 1, n do
  out[1 + n + i] = tonumber(redis.call('HGET', KEYS[i], host) or '0')
end
return out
)lua";

}  // namespace tenantd::fleet
