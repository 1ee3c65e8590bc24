-- accept(reservation id): the agent takes the task; refused unless the offer is still open. An offer
-- found expired is timed out here (as MemoryStore does) before the refusal.
local id = ARGV[ARG]
local reservation = res_of(id)
if not reservation then
  return fail('Conflict', 'offer ' .. id .. ' does not exist')
end
if reservation.state == 'pending' and NOW >= tonumber(reservation.expires_at) then
  time_out(reservation)
end
if reservation.state ~= 'pending' then
  return fail('Conflict', 'offer ' .. id .. ' is ' .. reservation.state .. ', no longer open')
end
local task, agent = task_of(reservation.task_id), agent_of(reservation.agent_id)
close_offer(reservation, 'accepted')
put(task, 'state', 'assigned', 'agent_id', agent.id, 'assigned_at', NOW_TEXT)
put(agent, 'offer', nil, 'missed_offers', 0)
leave_lines(task)
refresh_ready(agent)
emit('task.accepted', task.id, agent.id, task.queue, O('reservation_id', id,
  'wait', F(NOW - tonumber(task.created_at)), 'channel', task.channel))
return done()
