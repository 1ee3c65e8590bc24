-- transfer(task id, {queue, agent_id, note} JSON): an assigned task waits again in another queue or for a
-- named agent, keeping its history; its previous agent is freed.
local id, args = ARGV[ARG], cjson.decode(ARGV[ARG + 1])
local queue, agent_id, note = args.queue, args.agent_id, args.note
if queue == cjson.null then
  queue = nil
end
if agent_id == cjson.null then
  agent_id = nil
end
local task = task_of(id)
if not task then
  return no_task(id)
end
if task.state ~= 'assigned' then
  return fail('Conflict', 'task ' .. id .. ' is ' .. task.state .. '; only an assigned task can be transferred')
end
if (queue == nil) == (agent_id == nil) then
  return fail('Conflict', 'transfer to either a queue or an agent')
end
local name = task.queue
if queue and queue ~= '' then
  name = queue
end
local config = queue_of(name)
if not config then
  return no_queue(name)
end
if agent_id and not agent_of(agent_id) then
  return no_agent(agent_id)
end
local from_agent = task.agent_id and agent_of(task.agent_id)
local from_queue = task.queue
add_history(task, O('at', F(NOW, NOW_TEXT), 'from_agent', task.agent_id, 'from_queue', task.queue, 'to_queue', queue,
  'to_agent', agent_id, 'note', note))
if from_agent then
  agent_tasks(from_agent)[id] = nil
  put(from_agent, 'tasks', enc(from_agent._tasks))
  after_release(from_agent)
end
put(task, 'queue', name, 'state', 'queued', 'agent_id', nil, 'reservation_id', nil, 'declined_by', '[]',
  'escalation_step', 0, 'queued_at', NOW_TEXT, 'only', agent_id and enc(agent_id) or nil)
task._declined, task._only = nil, nil
if agent_id then
  set_targets(task, {{queue = name, skills = {}}})
else
  set_targets(task, {queue_target(name, config)})
end
enter_lines(task)
schedule_deadline(task, config)
emit('task.transferred', id, from_agent and from_agent.id or nil, name,
  O('to_queue', queue, 'to_agent', agent_id, 'note', note, 'channel', task.channel, 'from_queue', from_queue))
return done()
