-- put_queue(name, config JSON): create or replace a queue's configuration; its line exists from now on.
local name, raw = ARGV[ARG], ARGV[ARG + 1]
local old, config = queue_of(name), cjson.decode(raw)
if redis.call('HSET', P .. 'queues', name, raw) == 1 then
  redis.call('RPUSH', P .. 'queue_names', name)
end
cached('queue')[name] = config
index_requirements(name, old, config)
recount_lenient(name)
return done()
