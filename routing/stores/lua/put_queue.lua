-- put_queue(name, config JSON): create or replace a queue's configuration; its line exists from now on.
local name, raw = ARGV[ARG], ARGV[ARG + 1]
local old, config = queue_of(name), cjson.decode(raw)
if redis.call('HSET', P .. 'queues', name, raw) == 1 then
  redis.call('RPUSH', P .. 'queue_names', name)
end
-- A new queue token (see know_queues): unique for the store's life, and after its keys are deleted too.
local time = redis.call('TIME')
redis.call('HSET', P .. 'heads', '!queues', time[1] .. '.' .. time[2] .. ':' .. redis.call('INCR', P .. 'seq'))
cached('queue')[name] = config
index_requirements(name, old, config)
recount_lenient(name)
return done()
