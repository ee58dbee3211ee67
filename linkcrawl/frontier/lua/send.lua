-- linkcrawl frontier: claim the next send to a host for the whole fleet.
--
-- Leases are spaced by the host's delay, but a leased request can reach the site later
-- than its lease (a robots.txt fetch, a busy worker), and the next one sooner: the spacing
-- of arrivals is only as good as that latency. A worker calls this just before sending:
-- if the host's last send (<p>:sent) was less than its delay ago, it gets the time to
-- wait and sends nothing yet; otherwise its send time is recorded.
--
-- ARGV: prefix, host, now, default_delay
-- Returns "0" (send now) or the seconds to wait, as a string.
local p = ARGV[1]
local host = ARGV[2]
local now = tonumber(ARGV[3])
local delay = math.max(tonumber(ARGV[4]), tonumber(redis.call('HGET', p .. ':delay', host) or '0'))
if delay <= 0 then
  return '0'
end
local last = redis.call('HGET', p .. ':sent', host)
if last then
  local wait = tonumber(last) + delay - now
  if wait > 0 then
    return tostring(wait)
  end
end
redis.call('HSET', p .. ':sent', host, ARGV[3])
return '0'
