-- ardiq spec 1.1: scheduled.lua (read-only)
-- One page of the scheduled jobs, soonest first (due time, then job id in
-- Redis's order of members: bytes), for operators (SPEC.md section 20).
-- The page starts after a job named by its due time and id, not at an
-- offset, so jobs promoted, aborted or retried between two pages move
-- nothing: the next page neither skips nor repeats one that stayed.
-- KEYS[1]     ardiq:{q}:delayed        sorted set, job id -> due ms
-- KEYS[2]     ardiq:{q}:delayed:jobs   hash, job id -> Job record
-- ARGV[1]     the due time of the job to start after (a score, as `next`
--             gave it), "" for the first page
-- ARGV[2]     that job's id (it need not be scheduled any more)
-- ARGV[3]     most jobs to return, 1..1000
-- Reply: {next, jobs}: next is "<due>:<job id>" of the page's last job when
--        more follow (split it at its first ":" into ARGV[1] and ARGV[2]),
--        "" at the end; jobs: arrays {job id, due ms, Job record}, the
--        record "" when it is gone.
-- Commands: for a cursor two ZCOUNT and one ZRANGE per halving of the jobs
--        due at the cursor's time; one ZRANGE, one HMGET.

-- a follows b in the sorted set's order of equal scores (memcmp of the
-- bytes); Lua's own < on strings follows the server's locale.
local function follows(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end

local start = 0
if ARGV[1] ~= "" then
  local due, last = ARGV[1], ARGV[2]
  local low = redis.call("ZCOUNT", KEYS[1], "-inf", "(" .. due)
  local high = low + redis.call("ZCOUNT", KEYS[1], due, due)
  while low < high do
    local middle = math.floor((low + high) / 2)
    if follows(redis.call("ZRANGE", KEYS[1], middle, middle)[1], last) then
      high = middle
    else
      low = middle + 1
    end
  end
  start = low
end
local want = tonumber(ARGV[3])
local found = redis.call("ZRANGE", KEYS[1], start, start + want, "WITHSCORES")
local jobs, ids = {}, {}
for k = 1, math.min(#found / 2, want) do
  ids[k] = found[2 * k - 1]
  jobs[k] = { ids[k], tonumber(found[2 * k]), "" }
end
local next_page = ""
if #found / 2 > want then
  next_page = found[2 * want] .. ":" .. found[2 * want - 1]
end
if #ids > 0 then
  local records = redis.call("HMGET", KEYS[2], unpack(ids))
  for k, record in ipairs(records) do
    if record then jobs[k][3] = record end
  end
end
return { next_page, jobs }
