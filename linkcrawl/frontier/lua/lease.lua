-- linkcrawl frontier: lease up to max_count ready requests to one worker.
--
-- The ready line <p>:ready holds each host with queued work and a free in-flight slot,
-- scored by the time it may next be released; the host waiting longest comes first and
-- gives one request, the one of lowest depth: the head of its main list <p>:q:<host>
-- (non-decreasing depths) or of its lowest overflow list <p>:o:<host>:<depth> (depths in
-- <p>:od:<host>). The host then goes back in line at now + its delay, or leaves the line
-- when its slots are taken or its queue is empty. The request moves to an in-flight
-- record <p>:leases[id] = "1" host "\n" worker "\n" entry ("1": it holds one of the
-- host's in-flight slots, <p>:hif; see finish.lua), with its deadline in
-- <p>:deadlines; ids come from INCR <p>:lease_seq, unique fleet-wide. <p>:next keeps each
-- host's next release time after its queue empties (times that have passed are dropped).
--
-- ARGV: prefix, now, worker, max_count, lease_seconds, default_delay, max_inflight_per_host
-- Returns {n, next, id1, host1, entry1, ...}: next is the earliest score left in the ready
-- line ("" when the line is empty and nothing is queued, "blocked" when every host with
-- queued work has all its in-flight slots taken).
local p = ARGV[1]
local now = tonumber(ARGV[2])
local worker = ARGV[3]
local max_count = tonumber(ARGV[4])
local lease_seconds = tonumber(ARGV[5])
local default_delay = tonumber(ARGV[6])
local cap = tonumber(ARGV[7])

local ready, nextz, backlog = p .. ':ready', p .. ':next', p .. ':backlog'
local hif, delays = p .. ':hif', p .. ':delay'
redis.call('ZREMRANGEBYSCORE', nextz, '-inf', '(' .. ARGV[2])

-- Take the lowest-depth request of a host (false when it has none).
local function pop(host)
  local main = p .. ':q:' .. host
  local od = p .. ':od:' .. host
  local low = redis.call('ZRANGE', od, 0, 0)[1]
  if low then
    local head = redis.call('LINDEX', main, 0)
    local head_depth = head and tonumber(string.match(head, ',(%d+),%d+%]$'))
    if not head_depth or tonumber(low) < head_depth then
      local key = p .. ':o:' .. host .. ':' .. low
      local entry = redis.call('LPOP', key)
      if redis.call('LLEN', key) == 0 then
        redis.call('ZREM', od, low)
      end
      if entry then
        return entry
      end
    end
  end
  return redis.call('LPOP', main)
end

local out = {0, ''}
local n = 0
while n < max_count do
  local first = redis.call('ZRANGEBYSCORE', ready, '-inf', ARGV[2], 'LIMIT', 0, 1)
  if #first == 0 then
    break
  end
  local host = first[1]
  local entry = pop(host)
  if not entry then
    -- nothing queued after all (only after a manual edit): take the host out of line
    redis.call('ZREM', ready, host)
    redis.call('ZREM', backlog, host)
  else
    local id = redis.call('INCR', p .. ':lease_seq')
    redis.call('HSET', p .. ':leases', id, '1' .. host .. '\n' .. worker .. '\n' .. entry)
    redis.call('ZADD', p .. ':deadlines', now + lease_seconds, id)
    local inflight = redis.call('HINCRBY', hif, host, 1)
    local left = tonumber(redis.call('ZINCRBY', backlog, -1, host))
    if left <= 0 then
      redis.call('ZREM', backlog, host)
    end
    local delay = math.max(default_delay, tonumber(redis.call('HGET', delays, host) or '0'))
    local nxt = now + delay
    redis.call('ZADD', nextz, nxt, host)
    if left > 0 and inflight < cap then
      redis.call('ZADD', ready, nxt, host)
    else
      redis.call('ZREM', ready, host)
    end
    n = n + 1
    out[#out + 1] = tostring(id)
    out[#out + 1] = host
    out[#out + 1] = entry
  end
end

if n > 0 then
  redis.call('HINCRBY', p .. ':counts', 'queued', -n)
  redis.call('HINCRBY', p .. ':counts', 'inflight', n)
end
local head = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
if #head > 0 then
  out[2] = head[2]
elseif redis.call('ZCARD', backlog) > 0 then
  out[2] = 'blocked'
end
out[1] = n
return out
