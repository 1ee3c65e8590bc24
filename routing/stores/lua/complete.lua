-- complete(task id): the contact ended; wrap-up starts (or the task finishes at once without wrap-up).
local id = ARGV[ARG]
local task = task_of(id)
if not task then
  return no_task(id)
end
if task.state ~= 'assigned' then
  if task.state == 'wrapping' or task.state == 'completed' then
    return done()
  end
  return fail('Conflict', 'task ' .. id .. ' is ' .. task.state .. ', not assigned')
end
local config = queue_of(task.queue)
if not config then
  return no_queue(task.queue)
end
local wrap = config.wrap_up_seconds
put(task, 'state', 'wrapping', 'completed_at', NOW_TEXT, 'wrap_up_until', NOW + wrap)
emit('task.completed', id, task.agent_id, task.queue, O('talk', since_assigned(task), 'channel', task.channel))
if wrap <= 0 then
  finish_wrap_up(task)
else
  redis.call('ZADD', P .. 'wrap_due', fmt(NOW + wrap), id)
end
return done()
