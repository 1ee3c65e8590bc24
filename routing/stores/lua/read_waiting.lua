-- read_waiting(queue): the hashes of the tasks in a queue's line, in serving order, read atomically.
local name = ARGV[ARG]
if not queue_of(name) then
  return no_queue(name)
end
local rows = {}
for i, member in ipairs(redis.call('ZRANGE', P .. 'line:' .. name, 0, -1)) do
  rows[i] = redis.call('HGETALL', P .. 'task:' .. line_task(member))
end
return rows
