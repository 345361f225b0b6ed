-- ardiq spec 1.0: fetch.lua
-- Reads up to ARGV[3] new entries for one consumer, level by level from
-- the highest priority down, asking each level only for what is still
-- missing, so a lower level is read only when the higher ones cannot fill
-- the batch; records every entry's job id in `running` for this worker and
-- tells which of them have an abort request. One round trip for a pass.
-- KEYS[1]     ardiq:{q}:running      hash, job id -> worker id
-- KEYS[2]     ardiq:{q}:abort        set of job ids with an abort request
-- KEYS[3..]   ardiq:{q}:stream:<p>   the streams, highest priority first
-- ARGV[1]     consumer group name
-- ARGV[2]     consumer name (the worker id)
-- ARGV[3]     most entries to read
-- Reply: {streams, aborted}. streams: what XREADGROUP replies, one
--        {stream key, entries} pair per level that gave entries, in the
--        order of KEYS (empty when none did); aborted: the job ids (the
--        entries' `id` fields) that are in `abort`, in the order read.
-- Commands: one XREADGROUP per level read; with entries, per 1,000 job ids
-- one HSET and one SMISMEMBER.
local want = tonumber(ARGV[3])
local streams, ids = {}, {}
for i = 3, #KEYS do
  if want <= 0 then break end
  local read = redis.call("XREADGROUP", "GROUP", ARGV[1], ARGV[2], "COUNT", want, "STREAMS", KEYS[i], ">")
  if read then
    local entries = read[1][2]
    streams[#streams + 1] = read[1]
    want = want - #entries
    for _, entry in ipairs(entries) do
      local fields = entry[2]
      for f = 1, #fields - 1, 2 do
        if fields[f] == "id" then
          ids[#ids + 1] = fields[f + 1]
          break
        end
      end
    end
  end
end
local aborted = {}
for first = 1, #ids, 1000 do
  local last = math.min(first + 999, #ids)
  local owners, chunk = {}, {}
  for i = first, last do
    owners[#owners + 1] = ids[i]
    owners[#owners + 1] = ARGV[2]
    chunk[#chunk + 1] = ids[i]
  end
  redis.call("HSET", KEYS[1], unpack(owners))
  local flags = redis.call("SMISMEMBER", KEYS[2], unpack(chunk))
  for i, flag in ipairs(flags) do
    if flag == 1 then aborted[#aborted + 1] = chunk[i] end
  end
end
return {streams, aborted}
