-- ardiq spec 1.1: held.lua (read-only)
-- One page of the entries workers hold (delivered, not yet acked: running,
-- waiting in a worker for a slot, or handed back or left by a gone worker
-- until a reclaim takes them), level 9 first, oldest entry first within a
-- level, for operators (SPEC.md section 20).
-- KEYS[1+p]   ardiq:{q}:stream:<p>     for p = 0..9
-- KEYS[11]    ardiq:{q}:running        hash, job id -> worker id
-- ARGV[1]     consumer group name
-- ARGV[2]     the level to start at, 9..0
-- ARGV[3]     the entry id to start after on that level, "" for its first
-- ARGV[4]     most entries to return, 1..1000
-- Reply: {next, entries}: next is "<level>:<entry id>" to pass back as
--        ARGV[2] and ARGV[3] for the following page, or "" at the end;
--        entries: arrays {level, entry id, consumer, idle ms, deliveries,
--        job id, task, Job record, running worker}, the last three "" when
--        the entry is gone or the job is not in `running`. A level without
--        its stream or group holds nothing; any other XPENDING error (an
--        entry id it refuses) is replied as the error.
-- Commands: per level read one XPENDING, per entry one XRANGE, one HMGET.
local want = tonumber(ARGV[4])
local entries, ids = {}, {}
local next_page = ""
local after = ARGV[3]
for p = tonumber(ARGV[2]), 0, -1 do
  if want <= 0 then
    next_page = p .. ":"
    break
  end
  local start = "-"
  if after ~= "" then start = "(" .. after end
  after = ""
  -- A level never read has no stream or group (NOGROUP): it holds nothing.
  -- Any other error (a bad entry id) is the caller's, and is replied.
  local pending = redis.pcall("XPENDING", KEYS[1 + p], ARGV[1], start, "+", want)
  if type(pending) == "table" and pending.err then
    if string.sub(pending.err, 1, 7) ~= "NOGROUP" then return redis.error_reply(pending.err) end
  else
    for _, item in ipairs(pending) do
      local id, task, job = "", "", ""
      local found = redis.call("XRANGE", KEYS[1 + p], item[1], item[1])
      if #found > 0 then
        local fields = found[1][2]
        for f = 1, #fields - 1, 2 do
          if fields[f] == "id" then id = fields[f + 1]
          elseif fields[f] == "task" then task = fields[f + 1]
          elseif fields[f] == "job" then job = fields[f + 1] end
        end
      end
      entries[#entries + 1] = { p, item[1], item[2], item[3], item[4], id, task, job, "" }
      ids[#entries] = id
    end
    want = want - #pending
    if want <= 0 and #pending > 0 then
      next_page = p .. ":" .. pending[#pending][1]
      break
    end
  end
end
local named, places = {}, {}
for place, id in pairs(ids) do
  if id ~= "" then
    named[#named + 1] = id
    places[#named] = place
  end
end
if #named > 0 then
  local owners = redis.call("HMGET", KEYS[11], unpack(named))
  for k, owner in ipairs(owners) do
    if owner then entries[places[k]][9] = owner end
  end
end
return { next_page, entries }
