-- read_all(kind): the hashes of every agent ('agent') or task ('task'), in creation order, read atomically.
local kind = ARGV[ARG]
local rows = {}
for i, id in ipairs(redis.call('LRANGE', P .. kind .. '_ids', 0, -1)) do
  rows[i] = redis.call('HGETALL', P .. kind .. ':' .. id)
end
return rows
