-- ardiq spec 1.0: finish.lua
-- Stores the terminal status (the result) of a batch of jobs and removes
-- their stream entries: acked entries are deleted so nothing grows.
-- KEYS[1]        ardiq:{q}:running        hash, job id -> worker id
-- KEYS[2]        ardiq:{q}:abort          set of job ids with an abort request
-- KEYS[2+2i-1]   ardiq:{q}:stream:<p_i>   stream holding job i's entry
-- KEYS[2+2i]     ardiq:{q}:job:<id_i>     status key of job i
-- ARGV[1]        consumer group name
-- ARGV[1+4i-3]   stream entry id of job i
-- ARGV[1+4i-2]   job id
-- ARGV[1+4i-1]   ttl_ms of the status; "0" deletes it (no result kept)
-- ARGV[1+4i]     Status record (terminal state)
-- Reply: the number of jobs finished.
-- Commands: per job SET (or DEL); per call and stream XACK + XDEL; per call
-- HDEL + SREM.
local n = (#ARGV - 1) / 4
local by_stream, order, ids = {}, {}, {}
for i = 1, n do
  local stream_key, status_key = KEYS[2 + 2 * i - 1], KEYS[2 + 2 * i]
  local entry, id, ttl, status = ARGV[1 + 4 * i - 3], ARGV[1 + 4 * i - 2], ARGV[1 + 4 * i - 1], ARGV[1 + 4 * i]
  if not by_stream[stream_key] then
    by_stream[stream_key] = {}
    order[#order + 1] = stream_key
  end
  local entries = by_stream[stream_key]
  entries[#entries + 1] = entry
  ids[#ids + 1] = id
  if ttl == "0" then
    redis.call("DEL", status_key)
  else
    redis.call("SET", status_key, status, "PX", ttl)
  end
end
for _, stream_key in ipairs(order) do
  redis.call("XACK", stream_key, ARGV[1], unpack(by_stream[stream_key]))
  redis.call("XDEL", stream_key, unpack(by_stream[stream_key]))
end
if n > 0 then
  redis.call("HDEL", KEYS[1], unpack(ids))
  redis.call("SREM", KEYS[2], unpack(ids))
end
return n
