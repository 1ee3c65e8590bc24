#!lua name=bench_bare_decision
-- The floor of a Redis decision, for bench/routing.py --bare: the reads and writes the store's decision for
-- a freed agent makes (the agent, the heads of its lines, the first task; the reservation, its expiry, the
-- task, the agent, the ready set), and its event as the reply, with no routing rule at all: no eligibility,
-- capacity, preference or strategy, no fallback when the first task is not free, no caches. It is not a
-- store; it only shows what one round trip that does a decision's work costs on this machine.
-- ARGV: prefix, now, agent id, reservation id, offer timeout seconds.
local FIELDS = {}

redis.register_function('bench_bare_offer', function(KEYS, ARGV)
  local P, now, agent_id, rid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
  local agent_key = P .. 'agent:' .. agent_id
  local agent = redis.call('HMGET', agent_key, 'presence', 'offer', 'lines')
  if agent[1] ~= 'available' or agent[2] then
    return '[]'
  end
  local fields = FIELDS[agent[3]]
  if not fields then
    fields = {}
    for i, line in ipairs(cjson.decode(agent[3])) do
      fields[i] = '=' .. line
    end
    FIELDS[agent[3]] = fields
  end
  local first
  for _, head in ipairs(redis.call('HMGET', P .. 'heads', unpack(fields))) do
    if head and head ~= '' and (not first or head < first) then
      first = head
    end
  end
  if not first then
    return '[]'
  end
  local task_id = first:sub(38)
  local task_key = P .. 'task:' .. task_id
  local task = redis.call('HMGET', task_key, 'state', 'channel', 'queue')
  if task[1] ~= 'queued' then
    return '[]'
  end
  local expires = string.format('%.17g', tonumber(now) + tonumber(ARGV[5]))
  redis.call('HSET', P .. 'res:' .. rid, 'id', rid, 'task_id', task_id, 'agent_id', agent_id, 'created_at', now,
    'expires_at', expires, 'state', 'pending')
  redis.call('ZADD', P .. 'offer_due', expires, rid)
  redis.call('HSET', task_key, 'state', 'reserved', 'reservation_id', rid)
  redis.call('HSET', agent_key, 'offer', rid, 'last_offered_at', now, 'tasks',
    '{"' .. task_id .. '":"' .. task[2] .. '"}')
  redis.call('SREM', P .. 'ready', agent_id)
  return '[{"kind":"task.offered","task_id":"' .. task_id .. '","agent_id":"' .. agent_id .. '","queue":"'
    .. task[3] .. '","data":{"reservation_id":"' .. rid .. '","expires_at":' .. expires .. ',"channel":"'
    .. task[2] .. '"}}]'
end)
