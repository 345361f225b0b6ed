-- ardiq spec 1.1: finish.lua
-- Stores the terminal status (the result) of a batch of jobs and removes
-- their stream entries: acked entries are deleted so nothing grows. A job
-- whose entry this worker no longer owns (reclaimed by another worker, or
-- gone with its stream) is left alone entirely: its other run decides.
-- Callers waiting on finished jobs are told (SPEC.md section 15).
-- KEYS[1]        ardiq:{q}:running        hash, job id -> worker id
-- KEYS[2]        ardiq:{q}:abort          set of job ids with an abort request
-- KEYS[3]        ardiq:{q}:waiters        zset, job id -> deadline of a wait
-- KEYS[3+2i-1]   ardiq:{q}:stream:<p_i>   stream holding job i's entry
-- KEYS[3+2i]     ardiq:{q}:job:<id_i>     status key of job i
-- ARGV[1]        consumer group name
-- ARGV[2]        consumer name (the worker id)
-- ARGV[3]        the worker's clock (ms) when someone may wait on the
--                queue's jobs, "0" when nobody does (waiters are not read)
-- ARGV[4]        pub/sub channel of waiters: ardiq:{q}:events
-- ARGV[4+4i-3]   stream entry id of job i
-- ARGV[4+4i-2]   job id
-- ARGV[4+4i-1]   ttl_ms of the status; "0" deletes it (no result kept)
-- ARGV[4+4i]     Status record (terminal state)
-- Kept failures (spec 1.1, SPEC.md section 9.1), only when the batch has
-- jobs that failed for good:
-- KEYS[4+2n]     ardiq:{q}:failed         kept-failures stream
-- ARGV[5+4n]     its approximate maximum length (MAXLEN ~)
-- ARGV[6+4n]     its retention, ms: the key's TTL after this write
-- ARGV[7+4n]     the oldest entry id to keep (now - retention), for MINID ~
-- ARGV[8+4n+4k]  then per kept failure k = 0..: the job's index i,
--                task name, error type, Failure record
-- Reply: the job ids not finished because their entries are not this
--        worker's (empty when every job was finished).
-- Commands: per stream XPENDING twice (the ownership check, then the
-- group's oldest pending entry), XACK, XTRIM and, only when a job finished
-- before an older entry of its stream, XDEL; per job SET (or DEL); per
-- call HDEL and SREM; when ARGV[3] is not "0", ZMSCORE, and PUBLISH per
-- waited job and ZREM; with kept failures, XADD per failure, XTRIM and
-- PEXPIRE per call.
-- shared:begin ownership
-- Whether stream entry id `a` sorts before `b` (ids are "<ms>-<seq>";
-- compared as decimal strings, exact for any size).
local function id_before(a, b)
  -- Ids of one length with the "-" at one place compare as plain strings
  -- (decimal parts of equal lengths): no pattern match in the common case.
  if #a == #b and string.find(a, "-", 1, true) == string.find(b, "-", 1, true) then
    return a < b
  end
  local a_ms, a_seq = string.match(a, "^(%d+)-(%d+)$")
  local b_ms, b_seq = string.match(b, "^(%d+)-(%d+)$")
  if not a_ms or not b_ms then return a < b end
  if #a_ms ~= #b_ms then return #a_ms < #b_ms end
  if a_ms ~= b_ms then return a_ms < b_ms end
  if #a_seq ~= #b_seq then return #a_seq < #b_seq end
  return a_seq < b_seq
end
-- The set of `ids` (entry ids of one stream) pending under `consumer`: the
-- group's pending entries list is the truth of ownership. One XPENDING over
-- the ids' range; a missing stream or group (NOGROUP) owns nothing. Also
-- returns the newest of `ids` (nil when there are none).
local function owned(stream, group, consumer, ids)
  local set = {}
  if #ids == 0 then return set, nil end
  local first, last = ids[1], ids[1]
  for i = 2, #ids do
    if id_before(ids[i], first) then first = ids[i] end
    if id_before(last, ids[i]) then last = ids[i] end
  end
  local pending = redis.pcall("XPENDING", stream, group, first, last, 1000000000, consumer)
  if type(pending) ~= "table" or pending.err then return set, last end
  for _, item in ipairs(pending) do set[item[1]] = true end
  return set, last
end
-- shared:end ownership
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

local n = math.floor((#KEYS - 3) / 2)
local by_stream, order = {}, {}
for i = 1, n do
  local stream_key = KEYS[3 + 2 * i - 1]
  if not by_stream[stream_key] then
    by_stream[stream_key] = {}
    order[#order + 1] = stream_key
  end
  local entries = by_stream[stream_key]
  entries[#entries + 1] = ARGV[4 + 4 * i - 3]
end
local mine, newest = {}, {}
for _, stream_key in ipairs(order) do
  mine[stream_key], newest[stream_key] = owned(stream_key, ARGV[1], ARGV[2], by_stream[stream_key])
end
local acked, ids, lost, finished = {}, {}, {}, {}
for i = 1, n do
  local stream_key, status_key = KEYS[3 + 2 * i - 1], KEYS[3 + 2 * i]
  local entry, id, ttl, status = ARGV[4 + 4 * i - 3], ARGV[4 + 4 * i - 2], ARGV[4 + 4 * i - 1], ARGV[4 + 4 * i]
  if mine[stream_key][entry] then
    if ttl == "0" then
      redis.call("DEL", status_key)
    else
      redis.call("SET", status_key, status, "PX", ttl)
    end
    if not acked[stream_key] then acked[stream_key] = {} end
    local entries = acked[stream_key]
    entries[#entries + 1] = entry
    ids[#ids + 1] = id
    finished[i] = true
  else
    lost[#lost + 1] = id
  end
end
for _, stream_key in ipairs(order) do
  local entries = acked[stream_key]
  if entries then
    redis.call("XACK", stream_key, ARGV[1], unpack(entries))
    -- The acked entries are deleted. Every entry up to the batch's newest
    -- (delivered, so nothing not yet delivered is among them) that is older
    -- than the group's oldest pending entry has been acked: one exact XTRIM
    -- MINID drops those a listpack node at a time, where XDEL would scan a
    -- node per id. Acked entries not below that floor go by id with XDEL.
    local floor = newest[stream_key]
    local ms, seq = string.match(floor, "^(%d+)-(%d+)$")
    if ms and #seq <= 13 then
      floor = ms .. "-" .. tostring(tonumber(seq) + 1) -- the next possible id
    end
    local summary = redis.call("XPENDING", stream_key, ARGV[1])
    if summary[1] > 0 and id_before(summary[2], floor) then floor = summary[2] end
    redis.call("XTRIM", stream_key, "MINID", floor)
    local rest = {}
    for _, entry in ipairs(entries) do
      if not id_before(entry, floor) then rest[#rest + 1] = entry end
    end
    if #rest > 0 then redis.call("XDEL", stream_key, unpack(rest)) end
  end
end
if #ids > 0 then
  redis.call("HDEL", KEYS[1], unpack(ids))
  redis.call("SREM", KEYS[2], unpack(ids))
  if ARGV[3] ~= "0" then notify(KEYS[3], ARGV[4], tonumber(ARGV[3]), ids) end
end
-- kept failures (spec 1.1): begin
local failed_key = KEYS[4 + 2 * n]
if failed_key then
  local base = 4 + 4 * n
  local kept = false
  for k = base + 4, #ARGV - 3, 4 do
    local i = tonumber(ARGV[k])
    if finished[i] then
      redis.call("XADD", failed_key, "MAXLEN", "~", ARGV[base + 1], "*",
        "id", ARGV[4 + 4 * i - 2], "task", ARGV[k + 1], "type", ARGV[k + 2], "record", ARGV[k + 3])
      kept = true
    end
  end
  if kept then
    redis.call("XTRIM", failed_key, "MINID", "~", ARGV[base + 3])
    redis.call("PEXPIRE", failed_key, ARGV[base + 2])
  end
end
-- kept failures (spec 1.1): end
return lost
