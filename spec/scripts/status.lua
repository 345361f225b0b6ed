-- ardiq spec 1.1: status.lua (read-only)
-- Reads a job's state and, once it is terminal, its result.
-- KEYS[1]   ardiq:{q}:job:<id>       status key
-- KEYS[2]   ardiq:{q}:running        hash, job id -> worker id
-- KEYS[3]   ardiq:{q}:delayed        zset, job id -> due_ms
-- ARGV[1]   job id
-- Reply: {state, record}: state is one of "not_found", "queued",
--        "scheduled", "running", "complete", "failed", "aborted", "dead",
--        "expired"; record is the Status record bytes (while running, the
--        record a progress report wrote, if any), or false when not found.
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

local TERMINAL = { [4] = "complete", [5] = "failed", [6] = "aborted", [7] = "dead", [8] = "expired" }
local status = redis.call("GET", KEYS[1])
if not status then return { "not_found", false } end
local state = field(status, 2)
if TERMINAL[state] then return { TERMINAL[state], status } end
if redis.call("HEXISTS", KEYS[2], ARGV[1]) == 1 then return { "running", status } end
if state == 2 and redis.call("ZSCORE", KEYS[3], ARGV[1]) then return { "scheduled", status } end
return { "queued", status }
