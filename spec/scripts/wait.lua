-- ardiq spec 1.1: wait.lua
-- Registers callers waiting for jobs to end (SPEC.md section 15): each job
-- id joins the waiters zset with the wait's deadline (a later deadline
-- never shortens an earlier one's), waits that have passed are cleared, and
-- the queue's workers are told that someone waits, so that they tell the
-- waiters when those jobs end.
-- KEYS[1]   ardiq:{q}:waiters   zset, job id -> deadline of a wait (ms)
-- ARGV[1]   the caller's clock, ms
-- ARGV[2]   deadline of the wait, ms
-- ARGV[3]   pub/sub channel: ardiq:{q}:events
-- ARGV[4..] job ids, any number (at least one)
-- Reply: the number of waiters the zset holds now.
-- Commands: ZREMRANGEBYSCORE, ZADD, PUBLISH, ZCARD.
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. ARGV[1])
local members = {}
for i = 4, #ARGV do
  members[#members + 1] = ARGV[2]
  members[#members + 1] = ARGV[i]
end
redis.call("ZADD", KEYS[1], "GT", unpack(members))
redis.call("PUBLISH", ARGV[3], "waiting:" .. ARGV[2])
return redis.call("ZCARD", KEYS[1])
