-- ardiq spec 1.1: purge.lua
-- Removes jobs that no worker holds yet, with their status keys, for
-- `ardiq purge` (SPEC.md section 20): waiting entries of one stream (an
-- entry a worker has fetched meanwhile is left alone) and scheduled jobs
-- (only while they are still in `delayed`). The caller reads the ids first
-- (XRANGE after the group's last delivered id, ZRANGE of `delayed`) and
-- calls this per chunk until nothing is left.
-- KEYS[1]     ardiq:{q}:stream:<p>     the stream of the entries named
-- KEYS[2]     ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[3]     ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- KEYS[3+i]   ardiq:{q}:job:<id_i>     status key of job i (i = 1..n)
-- ARGV[1]     consumer group name
-- ARGV[2i]    the stream entry id of job i, or "" for a scheduled job
-- ARGV[2i+1]  the job id of job i
-- Reply: how many jobs were removed.
-- Commands: per waiting entry XPENDING, XDEL and DEL; per scheduled job
-- ZREM, HDEL and DEL.
local removed = 0
for i = 1, #KEYS - 3 do
  local entry, id, status_key = ARGV[2 * i], ARGV[2 * i + 1], KEYS[3 + i]
  if entry == "" then
    if redis.call("ZREM", KEYS[2], id) == 1 then
      redis.call("HDEL", KEYS[3], id)
      redis.call("DEL", status_key)
      removed = removed + 1
    end
  else
    -- Not pending means no worker has it (acked entries are deleted).
    local pending = redis.pcall("XPENDING", KEYS[1], ARGV[1], entry, entry, 1)
    local fetched = type(pending) == "table" and not pending.err and #pending > 0
    if not fetched and redis.call("XDEL", KEYS[1], entry) == 1 then
      redis.call("DEL", status_key)
      removed = removed + 1
    end
  end
end
return removed
