-- ardiq spec 1.1: dead_letter.lua
-- Moves an entry that must not run (again) to the dead-letter stream. An
-- entry this worker no longer owns is left alone: another worker holds it.
-- Callers waiting on the job are told (SPEC.md section 15).
-- KEYS[1]   ardiq:{q}:stream:<p>   stream holding the entry
-- KEYS[2]   ardiq:{q}:dead         dead-letter stream
-- KEYS[3]   ardiq:{q}:running      hash, job id -> worker id
-- KEYS[4]   ardiq:{q}:job:<id>     status key ("ardiq:{q}:job:" when the id is unknown)
-- KEYS[5]   ardiq:{q}:waiters      zset, job id -> deadline of a wait
-- ARGV[1]   consumer group name
-- ARGV[2]   consumer name (the worker id)
-- ARGV[3]   stream entry id
-- ARGV[4]   job id, "" when unknown (the entry's `id` when it is UTF-8)
-- ARGV[5]   task name, "" when unknown
-- ARGV[6]   reason code
-- ARGV[7]   DeadLetter record
-- ARGV[8]   Status record (STATE_DEAD), "" to leave the status key alone
--           (as for an `id` that is not a job id of SPEC.md section 1)
-- ARGV[9]   ttl_ms of the status; "0" deletes it
-- ARGV[10]  approximate maximum length of the dead-letter stream
-- ARGV[11]  the worker's clock (ms) when someone may wait, "0" when nobody does
-- ARGV[12]  pub/sub channel of waiters: ardiq:{q}:events
-- ARGV[13]  the entry's `id` field as `fetch.lua` recorded it in `running`
--           (any bytes, "" also when the entry has none): the field removed there
-- Reply: the dead-letter entry id, or 0 when the entry is not this
--        worker's (nothing written).
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
local pending = redis.pcall("XPENDING", KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if type(pending) ~= "table" or pending.err or #pending == 0 then return 0 end
redis.call("XACK", KEYS[1], ARGV[1], ARGV[3])
redis.call("XDEL", KEYS[1], ARGV[3])
local dead = redis.call("XADD", KEYS[2], "MAXLEN", "~", ARGV[10], "*",
  "id", ARGV[4], "task", ARGV[5], "reason", ARGV[6], "record", ARGV[7])
redis.call("HDEL", KEYS[3], ARGV[13])
if ARGV[4] ~= "" and ARGV[8] ~= "" then
  if ARGV[9] == "0" then
    redis.call("DEL", KEYS[4])
  else
    redis.call("SET", KEYS[4], ARGV[8], "PX", ARGV[9])
  end
  if ARGV[11] ~= "0" then notify(KEYS[5], ARGV[12], tonumber(ARGV[11]), { ARGV[4] }) end
end
return dead
