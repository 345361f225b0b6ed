-- ardiq spec 1.0: renew.lua
-- Renews a live worker's ownership of its in-flight entries so that no
-- other worker reclaims them: resets their idle time without counting a
-- delivery. Entries another consumer now owns are left alone.
-- KEYS[1]    ardiq:{q}:stream:<p>   stream holding the entries
-- ARGV[1]    consumer group name
-- ARGV[2]    consumer name (the worker id)
-- ARGV[3..]  stream entry ids
-- Reply: the ids still owned and renewed; the worker stops working on the
--        others, which it has lost.
local owned = {}
for i = 3, #ARGV do
  local pending = redis.call("XPENDING", KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #pending > 0 then owned[#owned + 1] = ARGV[i] end
end
if #owned > 0 then
  redis.call("XCLAIM", KEYS[1], ARGV[1], ARGV[2], 0, unpack(owned), "JUSTID")
end
return owned
