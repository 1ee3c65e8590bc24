-- tick(budget): offers that timed out, wrap-ups that ended, then escalation steps and maximum waits that
-- fell due, each in due order as MemoryStore's heaps pop them. At most `budget` entries per call keep
-- Redis responsive; the third reply says more are due and RedisStore.tick calls again.
local budget = tonumber(ARGV[ARG])
local used = 0

-- The earliest entry of a deadline set if it is due now, removed from the set.
local function pop_due(key)
  if used >= budget then
    return nil
  end
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #head == 0 or tonumber(head[2]) > NOW then
    return nil
  end
  redis.call('ZREM', key, head[1])
  used = used + 1
  return head[1]
end

local function due_left(key)
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return #head > 0 and tonumber(head[2]) <= NOW
end

local member = pop_due(P .. 'offer_due')
while member do
  local reservation = res_of(member)
  if reservation and reservation.state == 'pending' then
    time_out(reservation)
  end
  member = pop_due(P .. 'offer_due')
end
member = pop_due(P .. 'wrap_due')
while member do
  local task = task_of(member)
  if task and task.state == 'wrapping' and task.wrap_up_until and tonumber(task.wrap_up_until) <= NOW then
    finish_wrap_up(task)
  end
  member = pop_due(P .. 'wrap_due')
end
member = pop_due(P .. 'deadlines')
while member do
  local task = task_of(member:sub(18))
  if task and WAITING[task.state] and tonumber(task.dver) == tonumber(member:sub(1, 16), 10) then
    escalate(task)
  end
  member = pop_due(P .. 'deadlines')
end
local more = used >= budget and (due_left(P .. 'offer_due') or due_left(P .. 'wrap_due')
  or due_left(P .. 'deadlines'))
return done(more)
