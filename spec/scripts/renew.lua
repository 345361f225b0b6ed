-- ardiq spec 1.0: renew.lua
-- Renews a live worker's ownership of its in-flight entries of one stream
-- so that no other worker reclaims them: resets their idle time without
-- counting a delivery. Entries another consumer now owns, and entries no
-- longer pending at all, are left alone.
-- KEYS[1]    ardiq:{q}:stream:<p>   stream holding the entries
-- ARGV[1]    consumer group name
-- ARGV[2]    consumer name (the worker id)
-- ARGV[3..]  stream entry ids, any number
-- Reply: the ids still owned, now renewed, in the order given; the worker
--        stops working on the others, which it has lost.
-- Commands: one XPENDING, and one XCLAIM per 100 owned entries.
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

local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
local mine = owned(KEYS[1], ARGV[1], ARGV[2], ids)
local renewed = {}
for _, id in ipairs(ids) do
  if mine[id] then renewed[#renewed + 1] = id end
end
for first = 1, #renewed, 100 do
  local claim = { KEYS[1], ARGV[1], ARGV[2], 0 }
  for i = first, math.min(first + 99, #renewed) do claim[#claim + 1] = renewed[i] end
  claim[#claim + 1] = "JUSTID"
  redis.call("XCLAIM", unpack(claim))
end
return renewed
