-- ardiq spec 1.0: dead_letter.lua
-- Moves an entry that must not run (again) to the dead-letter stream.
-- KEYS[1]   ardiq:{q}:stream:<p>   stream holding the entry
-- KEYS[2]   ardiq:{q}:dead         dead-letter stream
-- KEYS[3]   ardiq:{q}:running      hash, job id -> worker id
-- KEYS[4]   ardiq:{q}:job:<id>     status key ("ardiq:{q}:job:" when the id is unknown)
-- ARGV[1]   consumer group name
-- ARGV[2]   stream entry id
-- ARGV[3]   job id, "" when unknown
-- ARGV[4]   task name, "" when unknown
-- ARGV[5]   reason code
-- ARGV[6]   DeadLetter record
-- ARGV[7]   Status record (STATE_DEAD), "" to leave the status key alone
-- ARGV[8]   ttl_ms of the status; "0" deletes it
-- ARGV[9]   approximate maximum length of the dead-letter stream
-- Reply: the dead-letter entry id.
redis.call("XACK", KEYS[1], ARGV[1], ARGV[2])
redis.call("XDEL", KEYS[1], ARGV[2])
local dead = redis.call("XADD", KEYS[2], "MAXLEN", "~", ARGV[9], "*",
  "id", ARGV[3], "task", ARGV[4], "reason", ARGV[5], "record", ARGV[6])
if ARGV[3] ~= "" then
  redis.call("HDEL", KEYS[3], ARGV[3])
  if ARGV[7] ~= "" then
    if ARGV[8] == "0" then
      redis.call("DEL", KEYS[4])
    else
      redis.call("SET", KEYS[4], ARGV[7], "PX", ARGV[8])
    end
  end
end
return dead
