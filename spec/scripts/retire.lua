-- ardiq spec 1.0: retire.lua
-- Deletes the consumers of gone workers from one stream's group once they
-- hold nothing there. Atomic: a consumer with a pending entry, or whose
-- worker still has a heartbeat key, is kept.
-- KEYS[1]     ardiq:{q}:stream:<p>          the stream
-- KEYS[1+i]   ardiq:{q}:worker:<name_i>     heartbeat key of candidate i (i = 1..n)
-- ARGV[1]     consumer group name
-- ARGV[1+i]   consumer name of candidate i
-- Reply: the consumer names deleted.
local deleted = {}
for i = 2, #ARGV do
  if redis.call("EXISTS", KEYS[i]) == 0 then
    local pending = redis.pcall("XPENDING", KEYS[1], ARGV[1], "-", "+", 1, ARGV[i])
    if type(pending) == "table" and not pending.err and #pending == 0 then
      redis.call("XGROUP", "DELCONSUMER", KEYS[1], ARGV[1], ARGV[i])
      deleted[#deleted + 1] = ARGV[i]
    end
  end
end
return deleted
