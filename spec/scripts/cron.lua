-- ardiq spec 1.1: cron.lua
-- Enqueues one tick of a cron schedule, at most once per tick across every
-- worker: the tick is claimed in the schedule's hash and its job enqueued in
-- the same script, so a tick is enqueued exactly when its claim succeeds.
-- A tick is claimed when it is later than the schedule's last_ms (the last
-- tick enqueued); the claim sets last_ms and next_ms and moves the
-- schedule's score in the index. The job is then written as enqueue.lua
-- writes a job due now (status QUEUED with SETNX, one stream entry), so its
-- deterministic id cron:<name>:<tick_ms> is still the idempotency key when
-- the schedule's hash was deleted.
-- KEYS[1]   ardiq:{q}:cron           zset, schedule name -> next tick ms
-- KEYS[2]   ardiq:{q}:cron:<name>    hash, the schedule's state (SPEC.md 19)
-- KEYS[3]   ardiq:{q}:delayed        } exactly enqueue.lua's KEYS for one
-- KEYS[4]   ardiq:{q}:delayed:jobs   } job (the delayed keys are not
-- KEYS[5]   ardiq:{q}:job:<id>       } touched: a tick's job is due now)
-- KEYS[6]   ardiq:{q}:stream:<p>     }
-- ARGV[1]   schedule name
-- ARGV[2]   tick_ms
-- ARGV[3]   next_ms: the schedule's next tick after this one
-- ARGV[4]   job id } exactly enqueue.lua's ARGV for one job;
-- ARGV[5]   task   } ARGV[6] (due_ms) is "0"
-- ARGV[6]   "0"    }
-- ARGV[7]   Job record (protobuf bytes)
-- Reply: the stream entry id (enqueued); 0 when this tick or a later one
--        was claimed before (nothing written); "duplicate" when the tick is
--        claimed now but a job of that id exists (only the claim is written).
-- Commands: HGET; when claimed HSET + ZADD + SETNX (+ XADD when enqueued).
local QUEUED = "\10\0031.0\16\1"
local last = redis.call("HGET", KEYS[2], "last_ms")
if last and tonumber(last) >= tonumber(ARGV[2]) then return 0 end
redis.call("HSET", KEYS[2], "last_ms", ARGV[2], "next_ms", ARGV[3])
redis.call("ZADD", KEYS[1], ARGV[3], ARGV[1])
if redis.call("SETNX", KEYS[5], QUEUED) == 0 then return "duplicate" end
return redis.call("XADD", KEYS[6], "*", "id", ARGV[4], "task", ARGV[5], "job", ARGV[7])
