-- linkcrawl frontier: end leases (ack, release, fail, expire) or free their host slots
-- (fetched).
--
-- A lease record is <p>:leases[id] = slot host "\n" worker "\n" entry, where slot is "1"
-- while the lease holds one of its host's in-flight slots (<p>:hif) and "0" once the
-- download is over (fetched) but the lease waits for its rows to be committed.
-- For each lease still held:
--   fetched free its host slot (once); the lease stays until it is acked or released;
-- the other modes drop the record and its deadline, free the slot if still held, then
--   ack     forget the request (done);
--   release put it back at the front of its host's queue (before the requests of its
--           depth), attempts kept;
--   fail    the same with attempts + 1, or, at max_attempts, push it to the dead letters
--           <p>:dead with the reason;
--   expire  like fail, for the leases whose deadline has passed (any worker's), with the
--           reason "lease expired (worker W)".
-- A host with queued work and a free slot rejoins the ready line at its next release time.
-- release and fail take a not_before time (empty: none): the host of each lease is not
-- released again, to any worker, before it (its robots.txt is unreachable until then).
--
-- ARGV: prefix, mode, now, max_inflight_per_host, max_attempts, reason, limit, not_before,
-- ids...
-- Returns {done, dead}: done = leases acked (ack), slots freed (fetched) or requests
-- requeued (the other modes).
local p = ARGV[1]
local mode = ARGV[2]
local now = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local max_attempts = tonumber(ARGV[5])
local reason = ARGV[6]
local not_before = tonumber(ARGV[8])

local leases, deadlines = p .. ':leases', p .. ':deadlines'
local ready, nextz, backlog, hif = p .. ':ready', p .. ':next', p .. ':backlog', p .. ':hif'

local ids
if mode == 'expire' then
  ids = redis.call('ZRANGEBYSCORE', deadlines, '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[7]))
else
  ids = {}
  for i = 9, #ARGV do
    ids[#ids + 1] = ARGV[i]
  end
end

-- Free one of the host's in-flight slots.
local function free_slot(host)
  if redis.call('HINCRBY', hif, host, -1) <= 0 then
    redis.call('HDEL', hif, host)
  end
end

-- Put the host back in the ready line if it has queued work and a free slot.
local function reschedule(host)
  local inflight = tonumber(redis.call('HGET', hif, host) or '0')
  if inflight < cap and redis.call('ZSCORE', backlog, host)
      and not redis.call('ZSCORE', ready, host) then
    local nxt = tonumber(redis.call('ZSCORE', nextz, host) or '0')
    redis.call('ZADD', ready, math.max(now, nxt), host)
  end
end

-- Put an entry back at the front of its host's queue: the front of the main list if that
-- keeps its depths in order, else the front of the overflow list of its depth.
local function requeue(host, depth, entry)
  local main = p .. ':q:' .. host
  local first = redis.call('LINDEX', main, 0)
  local first_depth = first and tonumber(string.match(first, ',(%d+),%d+%]$'))
  if not first_depth or tonumber(depth) <= first_depth then
    redis.call('LPUSH', main, entry)
  else
    redis.call('LPUSH', p .. ':o:' .. host .. ':' .. depth, entry)
    redis.call('ZADD', p .. ':od:' .. host, depth, depth)
  end
  redis.call('ZINCRBY', backlog, 1, host)
end

-- Hold the host back until not_before, in the ready line too if it is there already.
local function hold(host)
  if tonumber(redis.call('ZSCORE', nextz, host) or '0') < not_before then
    redis.call('ZADD', nextz, not_before, host)
  end
  redis.call('ZADD', ready, 'XX', 'GT', not_before, host)
end

local done, dead, ended, queued = 0, 0, 0, 0
for _, id in ipairs(ids) do
  local rec = redis.call('HGET', leases, id)
  if rec then
    local held = string.sub(rec, 1, 1) == '1'
    local a = string.find(rec, '\n', 2, true)
    local b = string.find(rec, '\n', a + 1, true)
    local host = string.sub(rec, 2, a - 1)
    local worker = string.sub(rec, a + 1, b - 1)
    local entry = string.sub(rec, b + 1)
    if mode == 'fetched' then
      if held then
        redis.call('HSET', leases, id, '0' .. string.sub(rec, 2))
        free_slot(host)
        done = done + 1
      end
    else
      redis.call('HDEL', leases, id)
      redis.call('ZREM', deadlines, id)
      ended = ended + 1
      if held then
        free_slot(host)
      end
      if mode == 'ack' then
        done = done + 1
      else
        local failed = mode ~= 'release'
        -- entry is ["url without scheme://host",depth,attempts] (store.pack_url), or
        -- [url,"sitemap tag",depth,attempts]: depth and attempts are always the last two
        local head, depth, attempts = string.match(entry, '^(.*),(%d+),(%d+)%]$')
        if head then
          attempts = tonumber(attempts)
          if failed then
            attempts = attempts + 1
          end
          entry = head .. ',' .. depth .. ',' .. string.format('%d', attempts) .. ']'
        end
        if not head or (failed and attempts >= max_attempts) then
          local why = reason
          if not head then
            why = 'unreadable queue entry'
          elseif mode == 'expire' then
            why = 'lease expired (worker ' .. worker .. ')'
          end
          -- [[url,depth,attempts],reason,worker,host,time]; an unreadable entry as a string
          local first = head and entry or cjson.encode(entry)
          local record = '[' .. first .. ',' .. cjson.encode(why) .. ',' .. cjson.encode(worker)
            .. ',' .. cjson.encode(host) .. ',' .. ARGV[3] .. ']'
          redis.call('LPUSH', p .. ':dead', record)
          dead = dead + 1
        else
          requeue(host, depth, entry)
          queued = queued + 1
          done = done + 1
          if not_before then
            hold(host)
          end
        end
      end
    end
    reschedule(host)
  end
end

local counts = p .. ':counts'
if ended > 0 then
  redis.call('HINCRBY', counts, 'inflight', -ended)
end
if queued > 0 then
  redis.call('HINCRBY', counts, 'queued', queued)
end
if dead > 0 then
  redis.call('HINCRBY', counts, 'dead', dead)
end
return {done, dead}
