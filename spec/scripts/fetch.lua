-- ardiq spec 1.0: fetch.lua
-- Reads up to ARGV[3] new entries for one consumer, level by level from
-- the highest priority down, asking each level only for what is still
-- missing, so a lower level is read only when the higher ones cannot fill
-- the batch: the non-blocking XREADGROUPs of one pass in one round trip.
-- KEYS[1..n]  ardiq:{q}:stream:<p>   the streams, highest priority first
-- ARGV[1]     consumer group name
-- ARGV[2]     consumer name (the worker id)
-- ARGV[3]     most entries to read
-- Reply: what XREADGROUP replies, one {stream key, entries} pair per level
--        that gave entries, in the order of KEYS; empty when none did.
-- Commands: one XREADGROUP per level read.
local want = tonumber(ARGV[3])
local reply = {}
for i = 1, #KEYS do
  if want <= 0 then break end
  local read = redis.call("XREADGROUP", "GROUP", ARGV[1], ARGV[2], "COUNT", want, "STREAMS", KEYS[i], ">")
  if read then
    reply[#reply + 1] = read[1]
    want = want - #read[1][2]
  end
end
return reply
