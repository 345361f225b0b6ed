-- ardiq spec 1.0: promote.lua
-- Moves delayed jobs whose due time has come into their priority's stream.
-- The status key keeps STATE_SCHEDULED; readers derive "queued" from the
-- job's absence in the delayed zset (SPEC.md section 6).
-- KEYS[1]      ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[2]      ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- KEYS[3+p]    ardiq:{q}:stream:<p>     for p = 0..9
-- ARGV[1]      now_ms
-- ARGV[2]      the most jobs to move in this call
-- Reply: {moved, next_due_ms}; next_due_ms is -1 when no delayed job is left.
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

local due = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
if #due > 0 then
  local jobs = redis.call("HMGET", KEYS[2], unpack(due))
  for i, id in ipairs(due) do
    local job = jobs[i]
    if job then
      local task = field(job, 3)
      local priority = field(job, 6) or 0
      if type(task) ~= "string" then task = "" end
      if type(priority) ~= "number" or priority > 9 then priority = 9 end
      redis.call("XADD", KEYS[3 + priority], "*", "id", id, "task", task, "job", job)
    end
  end
  redis.call("HDEL", KEYS[2], unpack(due))
  redis.call("ZREM", KEYS[1], unpack(due))
end
local next_due = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
if #next_due == 0 then return {#due, -1} end
return {#due, tonumber(next_due[2])}
