-- ardiq spec 1.1: progress.lua
-- Stores the progress running jobs of one stream reported (SPEC.md section
-- 16): their status keys become RUNNING records with the progress. A job
-- whose entry this worker no longer owns (reclaimed, finished, or gone with
-- its stream) is left alone.
-- KEYS[1]      ardiq:{q}:stream:<p>   stream holding the entries
-- KEYS[1+i]    ardiq:{q}:job:<id_i>   status key of job i
-- ARGV[1]      consumer group name
-- ARGV[2]      consumer name (the worker id)
-- ARGV[2+2i-1] stream entry id of job i
-- ARGV[2+2i]   Status record (STATE_RUNNING, with its progress)
-- Reply: the number of records stored.
-- Commands: one XPENDING; SET per owned job.
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

local n = (#ARGV - 2) / 2
local entries = {}
for i = 1, n do entries[i] = ARGV[2 + 2 * i - 1] end
local mine = owned(KEYS[1], ARGV[1], ARGV[2], entries)
local stored = 0
for i = 1, n do
  if mine[entries[i]] then
    redis.call("SET", KEYS[1 + i], ARGV[2 + 2 * i])
    stored = stored + 1
  end
end
return stored
