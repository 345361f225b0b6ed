-- ardiq spec 1.1: replay.lua
-- Takes a job out of the dead-letter stream (or, spec 1.1, the
-- kept-failures stream) and queues it again.
-- KEYS[1]   ardiq:{q}:dead         dead-letter stream, or ardiq:{q}:failed
-- KEYS[2]   ardiq:{q}:job:<id>     status key
-- KEYS[3]   ardiq:{q}:stream:<p>   stream of the job's priority
-- ARGV[1]   entry id in that stream
-- ARGV[2]   job id
-- ARGV[3]   task name
-- ARGV[4]   Job record to queue (attempt reset to 0)
-- Reply: the new stream entry id, or 0 when the entry is gone.
local QUEUED = "\10\0031.0\16\1"
if redis.call("XDEL", KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call("SET", KEYS[2], QUEUED)
return redis.call("XADD", KEYS[3], "*", "id", ARGV[2], "task", ARGV[3], "job", ARGV[4])
