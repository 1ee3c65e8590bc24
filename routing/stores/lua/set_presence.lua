-- set_presence(agent id, presence, reason JSON): leaving 'available' withdraws an open offer first.
local id, presence, reason = ARGV[ARG], ARGV[ARG + 1], cjson.decode(ARGV[ARG + 2])
if reason == cjson.null then
  reason = nil
end
local agent = agent_of(id)
if not agent then
  return no_agent(id)
end
if presence ~= 'available' and agent.offer then
  withdraw(res_of(agent.offer), 'agent left')
end
set_presence_to(agent, presence, reason)
return done()
