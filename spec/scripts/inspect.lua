-- ardiq spec 1.1: inspect.lua (read-only)
-- A queue at a glance, for operators (SPEC.md section 20): per priority
-- level the entries waiting (not yet delivered to any worker) and held
-- (delivered, not yet acked), and the id of the oldest waiting entry (its
-- time part is when it was queued); the scheduled jobs and the next due
-- time; the running, dead-letter, kept-failure and worker counts.
-- KEYS[1+p]   ardiq:{q}:stream:<p>     for p = 0..9
-- KEYS[11]    ardiq:{q}:delayed        zset, job id -> due_ms
-- KEYS[12]    ardiq:{q}:running        hash, job id -> worker id
-- KEYS[13]    ardiq:{q}:dead           dead-letter stream
-- KEYS[14]    ardiq:{q}:failed         kept-failures stream
-- KEYS[15]    ardiq:{q}:workers        zset, worker id -> last heartbeat ms
-- ARGV[1]     consumer group name
-- ARGV[2]     now_ms, the caller's clock: a worker counts while it was seen
--             less than 60 s ago (gone ones stay in `workers` until a live
--             worker prunes them)
-- Reply: {levels, scheduled, next_due_ms, running, dead, failed, workers,
--        keys}; levels: 10 arrays {waiting, held, oldest waiting entry id
--        or ""}, level 0 first; next_due_ms is -1 when nothing is
--        scheduled; keys: how many of KEYS exist (0: no such queue).
-- Commands: per level XLEN, and for a stream with entries XINFO GROUPS and
-- one XRANGE; then ZCARD, ZRANGE, HLEN, XLEN, XLEN, ZCOUNT, EXISTS.
-- The group `name` of `stream` as XINFO GROUPS tells it: its pending count
-- and last delivered id, or nil when the stream or the group is missing.
local function group_of(stream, name)
  local groups = redis.pcall("XINFO", "GROUPS", stream)
  if type(groups) ~= "table" or groups.err then return nil end
  for _, group in ipairs(groups) do
    local fields = {}
    for f = 1, #group - 1, 2 do fields[group[f]] = group[f + 1] end
    if fields["name"] == name then
      return { pending = fields["pending"], last = fields["last-delivered-id"] }
    end
  end
  return nil
end

local levels = {}
for p = 0, 9 do
  local stream = KEYS[1 + p]
  local length = redis.call("XLEN", stream)
  local waiting, held, oldest = 0, 0, ""
  if length > 0 then
    local group = group_of(stream, ARGV[1])
    local from = "-"
    if group then
      held = group.pending
      from = "(" .. group.last
    end
    waiting = length - held
    if waiting > 0 then
      local first = redis.call("XRANGE", stream, from, "+", "COUNT", 1)
      if #first > 0 then oldest = first[1][1] end
    end
  end
  levels[p + 1] = { waiting, held, oldest }
end
local next_due = redis.call("ZRANGE", KEYS[11], 0, 0, "WITHSCORES")
local due = -1
if #next_due > 0 then due = tonumber(next_due[2]) end
return {
  levels,
  redis.call("ZCARD", KEYS[11]),
  due,
  redis.call("HLEN", KEYS[12]),
  redis.call("XLEN", KEYS[13]),
  redis.call("XLEN", KEYS[14]),
  redis.call("ZCOUNT", KEYS[15], "(" .. (tonumber(ARGV[2]) - 60000), "+inf"),
  redis.call("EXISTS", unpack(KEYS)),
}
