"""The queue's Lua scripts: each state change that must not be half-done is one script.

Redis runs a script atomically, so a job is always in exactly one place — the stream (new or
pending), the delayed set, or the dead-letter stream — even when a worker dies between two
commands. Only Redis 6.2 commands are used (no Redis 7 functions), and every key a script touches
is passed in ``KEYS`` and shares one cluster hash slot (see :func:`ivr.jobs.queue.sibling_key`).

The reserved field names below must match :mod:`ivr.jobs.job`.
"""

from __future__ import annotations

# Shared helpers, prepended to each script.
_PRELUDE = """
local function split_fields(flat)
  local fields, prior, key = {}, 0, false
  for i = 1, #flat, 2 do
    local name, value = flat[i], flat[i + 1]
    if name == '_attempts' then
      prior = tonumber(value) or 0
    elseif name == '_key' then
      key = value
    elseif name ~= '_error' and name ~= '_id' then
      fields[#fields + 1] = name
      fields[#fields + 1] = value
    end
  end
  return fields, prior, key
end

local function pending_entry(stream, group, id)
  local p = redis.call('XPENDING', stream, group, id, id, 1)
  if #p == 0 then return false, 0 end
  return p[1][2], tonumber(p[1][4])
end

local function dead_letter(dead, id, fields, key, attempts, err)
  local args = {}
  for i = 1, #fields do args[i] = fields[i] end
  for _, v in ipairs({'_key', key, '_id', id, '_attempts', tostring(attempts), '_error', err}) do
    args[#args + 1] = v
  end
  return redis.call('XADD', dead, '*', unpack(args))
end
"""

# KEYS: stream, delayed. ARGV: now_ms, limit.
# Moves due retries back into the stream as new entries; returns {moved, next due score or false}.
PROMOTE = (
    _PRELUDE
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local job = cjson.decode(member)
  local args = {}
  for _, v in ipairs(job.fields) do args[#args + 1] = v end
  for _, v in ipairs({'_key', job.key, '_attempts', tostring(job.attempts), '_error', job.error}) do
    args[#args + 1] = v
  end
  redis.call('XADD', KEYS[1], '*', unpack(args))
  redis.call('ZREM', KEYS[2], member)
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or false}
"""
)

# KEYS: stream, dead. ARGV: group, consumer, min_idle_ms, cursor, count, max_attempts, error.
# Takes over entries pending longer than the visibility timeout (their worker died or stalled).
# XAUTOCLAIM JUSTID finds them; XCLAIM then counts the delivery and returns the entry. An entry
# deleted while pending is acked away; one whose attempts are used up goes to the dead letters.
# Returns {next cursor, {{id, attempt, flat fields}, ...}}.
RECLAIM = (
    _PRELUDE
    + """
local found = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
                         'COUNT', ARGV[5], 'JUSTID')
local jobs = {}
for _, id in ipairs(found[2]) do
  local entry = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id)[1]
  if not entry then
    redis.call('XACK', KEYS[1], ARGV[1], id)
  else
    local _, deliveries = pending_entry(KEYS[1], ARGV[1], id)
    local fields, prior, key = split_fields(entry[2])
    local attempt = prior + deliveries
    if attempt > tonumber(ARGV[6]) then
      dead_letter(KEYS[2], id, fields, key or id, attempt - 1, ARGV[7])
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
    else
      jobs[#jobs + 1] = {id, attempt, entry[2]}
    end
  end
end
return {found[1], jobs}
"""
)

# KEYS: stream, delayed, dead. ARGV: group, id, consumer, error, due_ms, max_attempts.
# One failed attempt: only the consumer that owns the entry may fail it (else 'stale': another
# worker reclaimed it and decides). Ack + delete + (delayed retry | dead letter) in one step, so
# the job is never in neither place nor in both. Returns {status, attempts}.
FAIL = (
    _PRELUDE
    + """
local owner, deliveries = pending_entry(KEYS[1], ARGV[1], ARGV[2])
if owner ~= ARGV[3] then return {'stale', 0} end
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if #entry == 0 then return {'gone', 0} end
local fields, prior, key = split_fields(entry[1][2])
key = key or ARGV[2]
local attempts = prior + deliveries
if attempts < tonumber(ARGV[6]) then
  local member = cjson.encode({key = key, attempts = attempts, error = ARGV[4], fields = fields})
  redis.call('ZADD', KEYS[2], ARGV[5], member)
  return {'retry', attempts}
end
dead_letter(KEYS[3], ARGV[2], fields, key, attempts, ARGV[4])
return {'dead', attempts}
"""
)

# KEYS: stream. ARGV: group, id, consumer.
# Resets the idle time of an entry this consumer still owns (a lease heartbeat); 0 if it lost it.
EXTEND = (
    _PRELUDE
    + """
local owner = pending_entry(KEYS[1], ARGV[1], ARGV[2])
if owner ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""
)

# KEYS: stream. ARGV: group, consumer.
# Deletes a consumer from the group only if nothing is pending for it: DELCONSUMER would
# otherwise drop its pending entries, and with them the jobs.
RETIRE = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS: stream, dead. ARGV: dead-letter id.
# Puts a dead job back on the stream with fresh attempts and the same key; false if not found.
REQUEUE_DEAD = (
    _PRELUDE
    + """
local entry = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
if #entry == 0 then return false end
local fields, _, key = split_fields(entry[1][2])
fields[#fields + 1] = '_key'
fields[#fields + 1] = key or ARGV[1]
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('XDEL', KEYS[2], ARGV[1])
return id
"""
)
