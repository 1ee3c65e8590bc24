-- cancel(task id, reason): the customer left while waiting; an open offer is withdrawn.
local id, reason = ARGV[ARG], ARGV[ARG + 1]
local task = task_of(id)
if not task then
  return no_task(id)
end
if FINAL[task.state] then
  return done()
end
if not WAITING[task.state] then
  return fail('Conflict', 'task ' .. id .. ' is ' .. task.state .. '; complete it instead')
end
if task.state == 'reserved' and task.reservation_id then
  withdraw(res_of(task.reservation_id), reason)
end
end_task(task, 'abandoned', reason)
emit('task.abandoned', id, nil, task.queue, O('reason', reason,
  'wait', F(NOW - tonumber(task.created_at)), 'channel', task.channel))
return done()
