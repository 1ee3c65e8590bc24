-- reject(reservation id): the agent declines; the task keeps its place in line.
local id = ARGV[ARG]
local reservation = res_of(id)
if not reservation or reservation.state ~= 'pending' then
  return fail('Conflict', 'offer ' .. id .. ' is not open')
end
if NOW >= tonumber(reservation.expires_at) then
  time_out(reservation)
  return fail('Conflict', 'offer ' .. id .. ' timed out')
end
release_offer(reservation, 'rejected', true)
return done()
