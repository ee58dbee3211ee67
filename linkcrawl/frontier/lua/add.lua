-- linkcrawl frontier: add a batch of requests (one call per page of links).
--
-- Dedupe is exact on the 64-bit fingerprint: the top `bits` bits pick a bucket set
-- <p>:s:<bucket hex>, the remaining bits, as a decimal integer, are the member. Integer
-- members keep a small set intset-encoded: 8 bytes per fingerprint.
--
-- A new request joins its host's queue. The main list <p>:q:<host> is kept in
-- non-decreasing depth order, so a request whose depth is >= the depth at its tail is
-- appended there (the usual case: a crawl finds deeper links as it goes); one of a lower
-- depth goes to the overflow list of its depth, <p>:o:<host>:<depth>, whose depths are
-- in the zset <p>:od:<host>. The host's backlog in <p>:backlog is raised, and the host
-- joins the ready line <p>:ready (score = when it may next be released) unless it is
-- already there or has all its in-flight slots taken.
--
-- ARGV: prefix, bits, now, max_inflight_per_host, queue ("1": queue new requests, "0":
--       only mark them seen), then per request: bucket, member[, host, depth, entry].
-- An entry is ["url without scheme://host",depth,attempts] (store.pack_url).
-- Returns the number of requests that were new.
local p = ARGV[1]
local bits = ARGV[2]
local now = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local queue = ARGV[5] == '1'

local meta = p .. ':meta'
local stored = redis.call('HGET', meta, 'seen_bucket_bits')
if not stored then
  redis.call('HSET', meta, 'seen_bucket_bits', bits)
elseif stored ~= bits then
  return redis.error_reply('FRONTIER seen_bucket_bits mismatch: this crawl uses ' .. stored
    .. ', the caller ' .. bits)
end

local stride = queue and 5 or 2
local new = 0
local per_host = {}
local hosts = {}
local tails = {}
local overflow = {}
for i = 6, #ARGV, stride do
  if redis.call('SADD', p .. ':s:' .. ARGV[i], ARGV[i + 1]) == 1 then
    new = new + 1
    if queue then
      local host, depth = ARGV[i + 2], tonumber(ARGV[i + 3])
      local main = p .. ':q:' .. host
      local tail = tails[host]
      if tail == nil then
        local last = redis.call('LINDEX', main, -1)
        tail = last and tonumber(string.match(last, ',(%d+),%d+%]$')) or -1
      end
      if depth >= tail then
        redis.call('RPUSH', main, ARGV[i + 4])
        tails[host] = depth
      else
        tails[host] = tail
        redis.call('RPUSH', p .. ':o:' .. host .. ':' .. ARGV[i + 3], ARGV[i + 4])
        local hd = host .. '\n' .. ARGV[i + 3]
        if not overflow[hd] then
          overflow[hd] = true
          redis.call('ZADD', p .. ':od:' .. host, depth, ARGV[i + 3])
        end
      end
      local n = per_host[host]
      if n then
        per_host[host] = n + 1
      else
        per_host[host] = 1
        hosts[#hosts + 1] = host
      end
    end
  end
end

if new > 0 then
  redis.call('HINCRBY', p .. ':counts', 'seen', new)
end
if queue and new > 0 then
  local ready, backlog = p .. ':ready', p .. ':backlog'
  for _, host in ipairs(hosts) do
    redis.call('ZINCRBY', backlog, per_host[host], host)
    if not redis.call('ZSCORE', ready, host) then
      local inflight = tonumber(redis.call('HGET', p .. ':hif', host) or '0')
      if inflight < cap then
        local nxt = tonumber(redis.call('ZSCORE', p .. ':next', host) or '0')
        redis.call('ZADD', ready, math.max(now, nxt), host)
      end
    end
  end
  redis.call('HINCRBY', p .. ':counts', 'queued', new)
end
return new
