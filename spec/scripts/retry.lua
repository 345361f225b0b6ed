-- ardiq spec 1.1: retry.lua
-- Takes a failed run's entry off the stream and schedules the next attempt,
-- unless an abort was requested meanwhile: then the job ends ABORTED. An
-- entry this worker no longer owns is left alone: the job's other run
-- decides.
-- KEYS[1]   ardiq:{q}:stream:<p>     stream holding the entry
-- KEYS[2]   ardiq:{q}:job:<id>       status key
-- KEYS[3]   ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[4]   ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- KEYS[5]   ardiq:{q}:running        hash, job id -> worker id
-- KEYS[6]   ardiq:{q}:abort          set of job ids with an abort request
-- KEYS[7]   ardiq:{q}:waiters        zset, job id -> deadline of a wait
-- ARGV[1]   consumer group name
-- ARGV[2]   consumer name (the worker id)
-- ARGV[3]   stream entry id
-- ARGV[4]   job id
-- ARGV[5]   due_ms of the next attempt
-- ARGV[6]   Job record of the next attempt (attempt incremented)
-- ARGV[7]   Status record (STATE_ABORTED) to store if an abort was requested
-- ARGV[8]   ttl_ms of that status; "0" deletes it
-- ARGV[9]   the worker's clock (ms) when someone may wait, "0" when nobody does
-- ARGV[10]  pub/sub channel of waiters: ardiq:{q}:events
-- Reply: 1 when the retry is scheduled, 0 when the job was aborted instead
--        (callers waiting on it are told, SPEC.md section 15), -1 when the
--        entry is not this worker's (nothing written).
-- shared:begin notify
-- Tells the callers waiting on `ids` that those jobs ended (1.1): for each id
-- in the waiters zset whose wait lasts until `now` or later, one message
-- `done:<id>` on `channel`; those waits are then removed. A wait that has
-- passed is left for `wait.lua` to clear.
local function notify(waiters, channel, now, ids)
  if #ids == 0 then return end
  local scores = redis.call("ZMSCORE", waiters, unpack(ids))
  local told = {}
  for i = 1, #ids do
    local score = scores[i]
    if score and tonumber(score) >= now then
      redis.call("PUBLISH", channel, "done:" .. ids[i])
      told[#told + 1] = ids[i]
    end
  end
  if #told > 0 then redis.call("ZREM", waiters, unpack(told)) end
end
-- shared:end notify
local SCHEDULED = "\10\0031.0\16\2"
local pending = redis.pcall("XPENDING", KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if type(pending) ~= "table" or pending.err or #pending == 0 then return -1 end
redis.call("XACK", KEYS[1], ARGV[1], ARGV[3])
redis.call("XDEL", KEYS[1], ARGV[3])
redis.call("HDEL", KEYS[5], ARGV[4])
if redis.call("SREM", KEYS[6], ARGV[4]) == 1 then
  if ARGV[8] == "0" then
    redis.call("DEL", KEYS[2])
  else
    redis.call("SET", KEYS[2], ARGV[7], "PX", ARGV[8])
  end
  if ARGV[9] ~= "0" then notify(KEYS[7], ARGV[10], tonumber(ARGV[9]), { ARGV[4] }) end
  return 0
end
redis.call("HSET", KEYS[4], ARGV[4], ARGV[6])
redis.call("ZADD", KEYS[3], ARGV[5], ARGV[4])
redis.call("SET", KEYS[2], SCHEDULED)
return 1
