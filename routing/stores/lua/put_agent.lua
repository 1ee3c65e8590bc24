-- put_agent(id, profile JSON): create an agent (offline) or replace its profile and skill index entries.
local id, raw = ARGV[ARG], ARGV[ARG + 1]
local agent = agent_of(id)
if agent then
  for skill in pairs(profile(agent).skills) do
    redis.call('SREM', P .. 'skill:' .. skill, id)
  end
  put(agent, 'profile', raw)
  agent._profile = nil
else
  redis.call('HSET', P .. 'agent:' .. id, 'id', id, 'profile', raw, 'presence', 'offline',
    'presence_since', NOW_TEXT, 'idle_since', NOW_TEXT, 'tasks', '{}', 'missed_offers', '0',
    'last_offered_at', '0')
  redis.call('RPUSH', P .. 'agent_ids', id)
end
local skills = cjson.decode(raw).skills or {}
for skill in pairs(skills) do
  redis.call('SADD', P .. 'skill:' .. skill, id)
end
index_agent(id, skills)
emit('agent.updated', nil, id, nil)
return done()
