-- ardiq spec 1.1: fetch.lua
-- Reads up to ARGV[3] new entries for one consumer, level by level from
-- the highest priority down, asking each level only for what is still
-- missing, so a lower level is read only when the higher ones cannot fill
-- the batch; records every entry's `id` field in `running` for this worker and
-- tells which of them have an abort request. One round trip for a pass.
-- KEYS[1]     ardiq:{q}:running      hash, job id -> worker id
-- KEYS[2]     ardiq:{q}:abort        set of job ids with an abort request
-- KEYS[3..]   ardiq:{q}:stream:<p>   the streams, highest priority first
-- ARGV[1]     consumer group name
-- ARGV[2]     consumer name (the worker id)
-- ARGV[3]     most entries to read
-- Reply: {streams, aborted}. streams: per level that gave entries, in the
--        order of KEYS (empty when none did), one flat array: the stream
--        key, then per entry its id, the number n of its field names and
--        values, and those n strings in the entry's order (one array per
--        level, not two per entry: cheaper for Redis to reply); aborted:
--        the job ids (the entries' `id` fields) that are in `abort`, in
--        the order read.
-- Commands: one XREADGROUP per level read; with entries, one SCARD and, per
-- 1,000 job ids, one HSET, and one SMISMEMBER when `abort` has members.
local want = tonumber(ARGV[3])
local streams, ids = {}, {}
for i = 3, #KEYS do
  if want <= 0 then break end
  local read = redis.call("XREADGROUP", "GROUP", ARGV[1], ARGV[2], "COUNT", want, "STREAMS", KEYS[i], ">")
  if read then
    local entries = read[1][2]
    local flat = {KEYS[i]}
    local n = 1
    want = want - #entries
    for _, entry in ipairs(entries) do
      local fields = entry[2]
      flat[n + 1] = entry[1]
      flat[n + 2] = #fields
      n = n + 2
      for f = 1, #fields do flat[n + f] = fields[f] end
      n = n + #fields
      -- The entry's last `id` field, as a map of its fields keeps a name
      -- given twice (SPEC.md section 3): the id the worker reads.
      for f = #fields - 1, 1, -2 do
        if fields[f] == "id" then
          ids[#ids + 1] = fields[f + 1]
          break
        end
      end
    end
    streams[#streams + 1] = flat
  end
end
local aborted = {}
-- Abort requests are rare: an empty `abort` needs no lookup per id.
local any_aborts = #ids > 0 and redis.call("SCARD", KEYS[2]) > 0
for first = 1, #ids, 1000 do
  local last = math.min(first + 999, #ids)
  local owners = {}
  for i = first, last do
    owners[#owners + 1] = ids[i]
    owners[#owners + 1] = ARGV[2]
  end
  redis.call("HSET", KEYS[1], unpack(owners))
  if any_aborts then
    local flags = redis.call("SMISMEMBER", KEYS[2], unpack(ids, first, last))
    for i, flag in ipairs(flags) do
      if flag == 1 then aborted[#aborted + 1] = ids[first + i - 1] end
    end
  end
end
return {streams, aborted}
