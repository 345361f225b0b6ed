-- ardiq spec 1.0: enqueue.lua
-- Enqueues a batch of jobs. A job whose status key already exists is a
-- duplicate: nothing is written for it (the job id is the idempotency key).
-- KEYS[1]        ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[2]        ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- KEYS[2+2i-1]   ardiq:{q}:job:<id_i>     status key of job i (i = 1..n)
-- KEYS[2+2i]     ardiq:{q}:stream:<p_i>   stream of job i's priority
-- ARGV[4i-3]     job id
-- ARGV[4i-2]     task name
-- ARGV[4i-1]     due_ms: "0" runs at once, otherwise the job is delayed
-- ARGV[4i]       Job record (protobuf bytes)
-- Reply: array with one element per job: the stream entry id (queued),
--        "scheduled" (delayed), or 0 (duplicate, nothing written).
-- Commands: per queued job SETNX + XADD; per delayed job SETNX + HSET + ZADD
-- (SETNX, not SET ... NX: its integer reply is cheaper for Lua to take).
local QUEUED = "\10\0031.0\16\1"
local SCHEDULED = "\10\0031.0\16\2"
local reply = {}
local n = #ARGV / 4
for i = 1, n do
  local id, task, due, job = ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  local status_key, stream_key = KEYS[2 + 2 * i - 1], KEYS[2 + 2 * i]
  if due == "0" then
    if redis.call("SETNX", status_key, QUEUED) == 1 then
      reply[i] = redis.call("XADD", stream_key, "*", "id", id, "task", task, "job", job)
    else
      reply[i] = 0
    end
  else
    if redis.call("SETNX", status_key, SCHEDULED) == 1 then
      redis.call("HSET", KEYS[2], id, job)
      redis.call("ZADD", KEYS[1], due, id)
      reply[i] = "scheduled"
    else
      reply[i] = 0
    end
  end
end
return reply
