-- ardiq spec 1.1: abort.lua
-- Aborts a job. A scheduled job is aborted at once; a queued or running job
-- gets an abort request that the worker holding it (or the next to fetch
-- it) carries out; a finished job is left alone.
-- KEYS[1]   ardiq:{q}:job:<id>       status key
-- KEYS[2]   ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[3]   ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- KEYS[4]   ardiq:{q}:abort          set of job ids with an abort request
-- KEYS[5]   ardiq:{q}:waiters        zset, job id -> deadline of a wait (1.1)
-- ARGV[1]   job id
-- ARGV[2]   ttl_ms of the aborted status when the job record names none
--           (its result_ttl_ms wins); "0" deletes it
-- ARGV[3]   Status record (STATE_ABORTED) to store when aborted at once
-- ARGV[4]   pub/sub channel that workers and waiters listen on: ardiq:{q}:events
-- ARGV[5]   the caller's clock, ms (1.1): callers waiting on a job aborted
--           now are told (SPEC.md section 15)
-- Reply: "not_found", "aborted" (done now), "abort_requested", or the name
--        of the terminal state the job already has ("complete", "failed",
--        "aborted", "dead", "expired").
-- shared:begin protobuf.varint
local function varint(s, i)
  local n, mul = 0, 1
  while true do
    local b = string.byte(s, i)
    if not b then return nil, i end
    n = n + (b % 128) * mul
    i = i + 1
    if b < 128 then return n, i end
    mul = mul * 128
  end
end
-- shared:end protobuf.varint
-- shared:begin protobuf.field
-- The first value of field `want` (varint or bytes) of a protobuf message.
local function field(s, want)
  local i = 1
  while i <= #s do
    local key
    key, i = varint(s, i)
    if not key then return nil end
    local number, wire = math.floor(key / 8), key % 8
    local value
    if wire == 0 then
      value, i = varint(s, i)
    elseif wire == 2 then
      local len
      len, i = varint(s, i)
      if not len then return nil end
      value = string.sub(s, i, i + len - 1)
      i = i + len
    elseif wire == 1 then
      i = i + 8
    elseif wire == 5 then
      i = i + 4
    else
      return nil
    end
    if number == want then return value end
  end
  return nil
end
-- shared:end protobuf.field
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

local TERMINAL = { [4] = "complete", [5] = "failed", [6] = "aborted", [7] = "dead", [8] = "expired" }
local status = redis.call("GET", KEYS[1])
if not status then return "not_found" end
local state = field(status, 2)
if TERMINAL[state] then return TERMINAL[state] end
if redis.call("ZREM", KEYS[2], ARGV[1]) == 1 then
  local job = redis.call("HGET", KEYS[3], ARGV[1])
  local ttl = ARGV[2]
  if job then
    local own = field(job, 13)
    if type(own) == "number" then ttl = string.format("%d", own) end
  end
  redis.call("HDEL", KEYS[3], ARGV[1])
  redis.call("SREM", KEYS[4], ARGV[1])
  if ttl == "0" then
    redis.call("DEL", KEYS[1])
  else
    redis.call("SET", KEYS[1], ARGV[3], "PX", ttl)
  end
  notify(KEYS[5], ARGV[4], tonumber(ARGV[5]), { ARGV[1] })
  return "aborted"
end
redis.call("SADD", KEYS[4], ARGV[1])
redis.call("PUBLISH", ARGV[4], "abort:" .. ARGV[1])
return "abort_requested"
