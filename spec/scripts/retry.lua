-- ardiq spec 1.0: retry.lua
-- Takes a failed run's entry off the stream and schedules the next attempt.
-- KEYS[1]   ardiq:{q}:stream:<p>     stream holding the entry
-- KEYS[2]   ardiq:{q}:job:<id>       status key
-- KEYS[3]   ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[4]   ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- KEYS[5]   ardiq:{q}:running        hash, job id -> worker id
-- ARGV[1]   consumer group name
-- ARGV[2]   stream entry id
-- ARGV[3]   job id
-- ARGV[4]   due_ms of the next attempt
-- ARGV[5]   Job record of the next attempt (attempt incremented)
-- Reply: 1.
local SCHEDULED = "\10\0031.0\16\2"
redis.call("XACK", KEYS[1], ARGV[1], ARGV[2])
redis.call("XDEL", KEYS[1], ARGV[2])
redis.call("HDEL", KEYS[5], ARGV[3])
redis.call("HSET", KEYS[4], ARGV[3], ARGV[5])
redis.call("ZADD", KEYS[3], ARGV[4], ARGV[3])
redis.call("SET", KEYS[2], SCHEDULED)
return 1
