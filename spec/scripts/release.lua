-- ardiq spec 1.0: release.lua
-- Hands back a stopping worker's unfinished entries of one stream: they
-- stay pending and unacked, with an idle time past any visibility timeout,
-- so the next reclaim pass of any worker takes them. Entries the worker no
-- longer owns are left alone.
-- KEYS[1]        ardiq:{q}:stream:<p>   stream holding the entries
-- KEYS[2]        ardiq:{q}:running      hash, job id -> worker id
-- ARGV[1]        consumer group name
-- ARGV[2]        consumer name (the worker id)
-- ARGV[3]        idle time to give the entries, ms
-- ARGV[2+2i]     stream entry id of job i (i = 1..n)
-- ARGV[3+2i]     job id of job i
-- Reply: the entry ids handed back.
-- Commands: one XPENDING; per 100 owned entries one XCLAIM and one HDEL.
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

local entries, jobs = {}, {}
for i = 4, #ARGV - 1, 2 do
  entries[#entries + 1] = ARGV[i]
  jobs[#jobs + 1] = ARGV[i + 1]
end
local mine = owned(KEYS[1], ARGV[1], ARGV[2], entries)
local released, released_jobs = {}, {}
for i, id in ipairs(entries) do
  if mine[id] then
    released[#released + 1] = id
    released_jobs[#released_jobs + 1] = jobs[i]
  end
end
for first = 1, #released, 100 do
  local last = math.min(first + 99, #released)
  local claim = { KEYS[1], ARGV[1], ARGV[2], 0 }
  local ids = {}
  for i = first, last do
    claim[#claim + 1] = released[i]
    ids[#ids + 1] = released_jobs[i]
  end
  claim[#claim + 1] = "IDLE"
  claim[#claim + 1] = ARGV[3]
  claim[#claim + 1] = "JUSTID"
  redis.call("XCLAIM", unpack(claim))
  redis.call("HDEL", KEYS[2], unpack(ids))
end
return released
