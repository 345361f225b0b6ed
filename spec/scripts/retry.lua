-- ardiq spec 1.0: retry.lua
-- Takes a failed run's entry off the stream and schedules the next attempt,
-- unless an abort was requested meanwhile: then the job ends ABORTED.
-- KEYS[1]   ardiq:{q}:stream:<p>     stream holding the entry
-- KEYS[2]   ardiq:{q}:job:<id>       status key
-- KEYS[3]   ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[4]   ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- KEYS[5]   ardiq:{q}:running        hash, job id -> worker id
-- KEYS[6]   ardiq:{q}:abort          set of job ids with an abort request
-- ARGV[1]   consumer group name
-- ARGV[2]   stream entry id
-- ARGV[3]   job id
-- ARGV[4]   due_ms of the next attempt
-- ARGV[5]   Job record of the next attempt (attempt incremented)
-- ARGV[6]   Status record (STATE_ABORTED) to store if an abort was requested
-- ARGV[7]   ttl_ms of that status; "0" deletes it
-- Reply: 1 when the retry is scheduled, 0 when the job was aborted instead.
local SCHEDULED = "\10\0031.0\16\2"
redis.call("XACK", KEYS[1], ARGV[1], ARGV[2])
redis.call("XDEL", KEYS[1], ARGV[2])
redis.call("HDEL", KEYS[5], ARGV[3])
if redis.call("SREM", KEYS[6], ARGV[3]) == 1 then
  if ARGV[7] == "0" then
    redis.call("DEL", KEYS[2])
  else
    redis.call("SET", KEYS[2], ARGV[6], "PX", ARGV[7])
  end
  return 0
end
redis.call("HSET", KEYS[4], ARGV[3], ARGV[5])
redis.call("ZADD", KEYS[3], ARGV[4], ARGV[3])
redis.call("SET", KEYS[2], SCHEDULED)
return 1
