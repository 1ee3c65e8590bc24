-- offer(mode, id, new reservation id): one matching decision, for a task ('task'), for an agent ('agent')
-- or the best overall ('best'). A task-triggered decision gives the chosen agent its oldest eligible task.
local mode, id, reservation_id = ARGV[ARG], ARGV[ARG + 1], ARGV[ARG + 2]
if mode ~= 'agent' and redis.call('SCARD', P .. 'ready') == 0 then
  return done()
end
if mode == 'task' then
  local task = task_of(id)
  if not task or task.state ~= 'queued' then
    return done()
  end
  local agent = best_agent(task)
  if agent then
    reserve(first_task_for(agent) or task, agent, reservation_id)
  end
elseif mode == 'agent' then
  local agent = agent_of(id, true)
  -- Ready (in the ready set) is exactly: available with no open offer.
  if agent and agent.presence == 'available' and not agent.offer then
    local task = first_task_for(agent)
    if task then
      reserve(task, agent, reservation_id)
    end
  end
else
  scan(all_lines(), function(task)
    local agent = best_agent(task)
    if agent then
      reserve(task, agent, reservation_id)
      return true
    end
    return false
  end)
end
return done()
