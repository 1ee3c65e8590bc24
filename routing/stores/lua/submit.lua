-- submit(id, queue, field, value, ...): queue a new task given as its hash fields; an id seen before
-- changes nothing. Without targets the task gets its queue's own target.
local id, name = ARGV[ARG], ARGV[ARG + 1]
local key = P .. 'task:' .. id
if redis.call('EXISTS', key) == 1 then
  return done()
end
local config = queue_of(name)
if not config then
  return no_queue(name)
end
redis.call('HSET', key, unpack(ARGV, ARG + 2))
redis.call('RPUSH', P .. 'task_ids', id)
local task = task_of(id)
if #targets(task) == 0 then
  set_targets(task, {queue_target(name, config)})
end
enter_lines(task)
schedule_deadline(task, config)
emit('task.queued', id, nil, name, O('channel', task.channel, 'priority', tonumber(task.priority)))
return done()
