-- end_wrap_up(task id): after-contact work done early or on time; the agent's capacity is free again.
local id = ARGV[ARG]
local task = task_of(id)
if not task then
  return no_task(id)
end
if task.state == 'wrapping' then
  finish_wrap_up(task)
end
return done()
