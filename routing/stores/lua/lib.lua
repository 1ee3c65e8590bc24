-- The routing library that every operation (lua/<operation>.lua) runs on; the rules mirror MemoryStore and
-- routing/policies.py line by line, so keep them in step.
--
-- RedisStore loads it once as a Redis function library (each operation a function registered over this
-- prelude, so the helpers below are built once, not on every call), or, where functions are missing, sends
-- it as the head of each operation's script. Either way an operation starts with begin(ARGV):
-- ARGV[1] key prefix, ARGV[2] now (Python repr, so tonumber gives the very same double), ARGV[3] exclusive
-- channels (JSON list), ARGV[4] SCAN_LIMIT; the operation's own arguments start at ARGV[ARG].
-- Keys are built from the prefix (no KEYS command, no SCAN), so all of a store's keys share its prefix;
-- KEYS[1] (the store's `seq` key) is only named for routing.

local ARG = 5
-- Per call (set by begin): the key prefix, the time, the exclusive channels, the scan limit, the documents
-- read so far, the events so far, and the queue configurations known from earlier calls (see
-- know_queues). Nothing of the routing state outlives a call here: what a function library keeps across
-- calls are caches of decoded constants (EXCLUSIVE_SETS, KEY_JSON, DECODED, PROFILES, HEAD_FIELDS), keyed
-- by the very text they were decoded from, and the queue configurations, keyed by a token that every
-- change of a queue renews, so none can be stale.
local P, NOW_TEXT, NOW, EXCLUSIVE, SCAN_LIMIT, CACHE, EVENTS, QUEUES

local EXCLUSIVE_SETS = {}  -- by their JSON text (there is one per configuration)

local function begin(args)
  P, NOW_TEXT = args[1], args[2]
  NOW = tonumber(NOW_TEXT)
  EXCLUSIVE = EXCLUSIVE_SETS[args[3]]
  if not EXCLUSIVE then
    EXCLUSIVE = {}
    for _, channel in ipairs(cjson.decode(args[3])) do
      EXCLUSIVE[channel] = true
    end
    EXCLUSIVE_SETS[args[3]] = EXCLUSIVE
  end
  SCAN_LIMIT = tonumber(args[4])
  -- Every document is read at most once per call and written through at once, so an operation sees its
  -- own writes and Redis holds them even if a later step fails.
  CACHE, EVENTS, QUEUES = {}, {}, nil
end

-- The documents of one kind read so far in this call (made on first use: most calls read two kinds).
local function cached(kind)
  local docs = CACHE[kind]
  if not docs then
    docs = {}
    CACHE[kind] = docs
  end
  return docs
end

local WAITING = {queued = true, reserved = true}
local FINAL = {completed = true, cancelled = true, abandoned = true, fell_back = true}
local RELEASED = {rejected = 'task.rejected', timed_out = 'task.timed_out', withdrawn = 'task.withdrawn'}
-- What matching reads of a task (scan loads only these; task_of builds the document from them in this
-- order); the other fields, with neither attributes nor history (large, never decoded here), are read when
-- an operation needs the whole task.
local MATCH_FIELDS = {
  'id', 'state', 'channel', 'queue', 'queued_at', 'targets', 'declined_by', 'only', 'preferred_agent',
}
-- What a decision for an agent reads of it (agent_of(id, true) builds the document from them in this order);
-- the other fields of its hash are read when an operation needs the whole agent.
local AGENT_MATCH_FIELDS = {'id', 'profile', 'presence', 'tasks', 'offer', 'lines'}
local AGENT_OTHER_FIELDS = {'away_reason', 'presence_since', 'idle_since', 'missed_offers', 'last_offered_at'}
local OTHER_FIELDS = {
  'created_at', 'priority', 'score', 'reservation_id', 'agent_id', 'assigned_at', 'escalation_step', 'seq',
  'entered', 'dver', 'wrap_up_until',
}

-- numbers and JSON ---------------------------------------------------------------------------------------

-- %.17g round-trips every double exactly (cjson keeps only 14 digits), so times stay exact.
local function fmt(x)
  return string.format('%.17g', x)
end

-- Marked values for the encoder: F(x) a float (always written with a fraction, as Python would),
-- A(list) an array even when empty, O(k1, v1, ...) an object with its keys in this order (nil = null).
-- Any other table is a map (written as an object, {} when empty).
local FLOAT, ARRAY, ORDERED = {}, {}, {}
local function F(x, text)
  return setmetatable({x, text}, FLOAT)
end
local function A(list)
  return setmetatable(list, ARRAY)
end
local function O(...)
  return setmetatable({n = select('#', ...), ...}, ORDERED)
end

-- A float's text as JSON, always with a fraction (as Python writes floats).
local function float_json(text)
  if text:find('[%.eEn]') then
    return text
  end
  return text .. '.0'
end

-- A string as JSON: ids and names rarely need escaping, so quote them without cjson's buffer when they do not.
local function quote(text)
  if text:find('[%c"\\]') then
    return cjson.encode(text)
  end
  return '"' .. text .. '"'
end

-- The keys of ordered objects are a few constants: encode each once (kept across calls as a function).
local KEY_JSON = {}

local function enc(value)
  if value == nil or value == cjson.null then
    return 'null'
  end
  local kind = type(value)
  if kind == 'string' then
    return quote(value)
  elseif kind == 'number' then
    return fmt(value)
  elseif kind == 'boolean' then
    return tostring(value)
  end
  local mt = getmetatable(value)
  local parts = {}
  if mt == FLOAT then
    return float_json(value[2] or fmt(value[1]))
  elseif mt == ARRAY then
    for i = 1, #value do
      parts[i] = enc(value[i])
    end
    return '[' .. table.concat(parts, ',') .. ']'
  elseif mt == ORDERED then
    for i = 1, value.n, 2 do
      local key = KEY_JSON[value[i]]
      if not key then
        key = cjson.encode(value[i]) .. ':'
        KEY_JSON[value[i]] = key
      end
      parts[#parts + 1] = key .. enc(value[i + 1])
    end
    return '{' .. table.concat(parts, ',') .. '}'
  end
  for key, item in pairs(value) do
    parts[#parts + 1] = quote(tostring(key)) .. ':' .. enc(item)
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- Append one encoded item to a JSON array without decoding it (history may hold anything).
local function json_append(list, item)
  local body = (list or '[]'):match('^%s*%[(.*)%]%s*$')
  if body:match('^%s*$') then
    return '[' .. item .. ']'
  end
  return '[' .. body .. ',' .. item .. ']'
end

-- Decoded JSON by its text. As a function library this is kept across calls, and as texts are interned a
-- hit costs one lookup (queue configs, profiles and targets repeat endlessly); as a script it lasts one call.
-- Callers never change what it returns. Bounded: emptied when full.
local DECODED, DECODED_COUNT = {}, 0

local function decode(text)
  local value = DECODED[text]
  if value == nil then
    value = cjson.decode(text)
    if DECODED_COUNT >= 10000 then
      DECODED, DECODED_COUNT = {}, 0
    end
    DECODED[text], DECODED_COUNT = value, DECODED_COUNT + 1
  end
  return value
end

-- Python compares str by code point, which is UTF-8 byte order; Lua's < uses the server's locale.
local function str_lt(a, b)
  if a == b then
    return false
  end
  for i = 1, math.min(#a, #b) do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

-- events and replies -------------------------------------------------------------------------------------

-- One RoutingEvent: Python adds `at` (the `now` it sent), so only the rest travels. `data` is a value for
-- enc, or its JSON text already made.
local function emit(kind, task_id, agent_id, queue, data)
  if type(data) ~= 'string' then
    data = data and enc(data) or '{}'
  end
  EVENTS[#EVENTS + 1] = '{"kind":"' .. kind .. '","task_id":' .. enc(task_id) .. ',"agent_id":' .. enc(agent_id)
    .. ',"queue":' .. enc(queue) .. ',"data":' .. data .. '}'
end

-- The reply of an operation is one string (the cheapest reply to read): its events as a JSON array, with
-- a leading '+' when tick has more due; or a refusal, '!<kind> <message>', after which Python raises
-- UnknownTask, UnknownAgent, UnknownQueue or Conflict.
local function done(more)
  local head = more and '+[' or '['
  if #EVENTS == 1 then
    return head .. EVENTS[1] .. ']'
  end
  return head .. table.concat(EVENTS, ',') .. ']'
end

local function fail(kind, message)
  return '!' .. kind .. ' ' .. message
end

-- documents ----------------------------------------------------------------------------------------------

local function from_flat(flat, key)
  if #flat == 0 then
    return false
  end
  local doc = {_key = key}
  for i = 1, #flat, 2 do
    doc[flat[i]] = flat[i + 1]
  end
  return doc
end

local function read_fields(doc, fields)
  local values = redis.call('HMGET', doc._key, unpack(fields))
  for i, field in ipairs(fields) do
    if values[i] then
      doc[field] = values[i]
    end
  end
end

-- A task document; `matching` reads only what matching needs (a later task_of(id) reads the rest).
local function task_of(id, matching)
  local docs = cached('task')
  local doc = docs[id]
  if doc == nil then
    -- One table constructor (its size set once) rather than a table grown field by field; a missing
    -- field reads as false, stored as nil.
    local key = P .. 'task:' .. id
    local v = redis.call('HMGET', key, unpack(MATCH_FIELDS))
    -- The decoded targets and declined set get their slots now (false until made), so that making them
    -- does not grow the table.
    doc = v[1] and {
      _key = key, _partial = true, id = v[1], state = v[2] or nil, channel = v[3] or nil, queue = v[4] or nil,
      queued_at = v[5] or nil, targets = v[6] or nil, declined_by = v[7] or nil, only = v[8] or nil,
      preferred_agent = v[9] or nil, _targets = false, _declined = false,
    }
    docs[id] = doc
  end
  if doc and doc._partial and not matching then
    read_fields(doc, OTHER_FIELDS)
    doc._partial = nil
  end
  return doc or nil
end

-- An agent document; `matching` reads only what a decision for the agent needs (a later agent_of(id) reads
-- the rest), as task_of does.
local function agent_of(id, matching)
  local docs = cached('agent')
  local doc = docs[id]
  if doc == nil then
    local key = P .. 'agent:' .. id
    local v = redis.call('HMGET', key, unpack(AGENT_MATCH_FIELDS))
    doc = v[1] and {
      _key = key, _partial = true, id = v[1], profile = v[2] or nil, presence = v[3] or nil, tasks = v[4] or nil,
      offer = v[5] or nil, lines = v[6] or nil, _profile = false, _tasks = false,
    }
    docs[id] = doc
  end
  if doc and doc._partial and not matching then
    read_fields(doc, AGENT_OTHER_FIELDS)
    doc._partial = nil
  end
  return doc or nil
end

local function res_of(id)
  local docs = cached('res')
  local doc = docs[id]
  if doc == nil then
    local key = P .. 'res:' .. id
    doc = from_flat(redis.call('HGETALL', key), key)
    docs[id] = doc
  end
  return doc or nil
end

-- Queue configurations decoded by earlier calls, per store (prefix): valid while the store's queue token
-- (the heads field '!queues', made anew by every put_queue) is the one this call read with the line
-- heads, so a decision reads each configuration only after it changed. QUEUES is this call's (name ->
-- config, or false), once the token is read.
local KNOWN_QUEUES, KNOWN_COUNT = {}, 0

local function know_queues(token)
  if not token then  -- no queue configured since heads were kept: read as before
    return
  end
  local known = KNOWN_QUEUES[P]
  if not known or known.token ~= token then
    if not known and KNOWN_COUNT >= 1000 then
      KNOWN_QUEUES, KNOWN_COUNT = {}, 0
    end
    if not known then
      KNOWN_COUNT = KNOWN_COUNT + 1
    end
    known = {token = token, configs = {}}
    KNOWN_QUEUES[P] = known
  end
  QUEUES = known.configs
end

local function queue_of(name)
  local configs = cached('queue')
  local config = configs[name]
  if config == nil and QUEUES then
    config = QUEUES[name]
  end
  if config == nil then
    local raw = redis.call('HGET', P .. 'queues', name)
    config = raw and decode(raw) or false
    if QUEUES then
      QUEUES[name] = config
    end
  end
  configs[name] = config
  return config or nil
end

-- put(doc, field, value, ...): set fields (numbers written exactly) and delete the nil ones, in one HSET.
local function put(doc, ...)
  local sets, dels = {}, {}
  for i = 1, select('#', ...), 2 do
    local field, value = select(i, ...)
    if value == nil then
      dels[#dels + 1] = field
    else
      if type(value) == 'number' then
        value = fmt(value)
      end
      sets[#sets + 1] = field
      sets[#sets + 1] = value
    end
    doc[field] = value
  end
  if #sets > 0 then
    redis.call('HSET', doc._key, unpack(sets))
  end
  if #dels > 0 then
    redis.call('HDEL', doc._key, unpack(dels))
  end
end

-- put() for text values only: one HSET, no tables (the decision's writes).
local function put_text(doc, ...)
  redis.call('HSET', doc._key, ...)
  for i = 1, select('#', ...), 2 do
    local field, value = select(i, ...)
    doc[field] = value
  end
end

local function targets(task)
  if not task._targets then
    local list = decode(task.targets)
    if not list.normalised then
      for _, target in ipairs(list) do
        if target.language == cjson.null then
          target.language = nil
        end
      end
      list.normalised = true
    end
    task._targets = list
  end
  return task._targets
end

local function set_targets(task, list)
  local parts = {}
  for i, target in ipairs(list) do
    parts[i] = enc(O('queue', target.queue, 'skills', target.skills, 'language', target.language))
  end
  put(task, 'targets', '[' .. table.concat(parts, ',') .. ']')
  task._targets = list
end

local function queue_target(name, config)
  local skills = {}
  for skill, level in pairs(config.skills or {}) do
    skills[skill] = level
  end
  return {queue = name, skills = skills, language = config.language}
end

-- Shared by every reader that finds nothing (no one declined, no task held): never changed.
local NOTHING = {}

local function declined(task)
  if not task._declined and task.declined_by == '[]' then
    task._declined = NOTHING
  elseif not task._declined then
    local set = {}
    for _, agent_id in ipairs(decode(task.declined_by)) do
      set[agent_id] = true
    end
    task._declined = set
  end
  return task._declined
end

local function add_declined(task, agent_id)
  put(task, 'declined_by', json_append(task.declined_by, enc(agent_id)))
  task._declined = nil
end

local function add_history(task, entry)
  local history = redis.call('HGET', task._key, 'history')
  redis.call('HSET', task._key, 'history', json_append(history or '[]', enc(entry)))
end

local PROFILES, PROFILE_COUNT = {}, 0

local function profile(agent)
  if not agent._profile then
    agent._profile = PROFILES[agent.profile]
  end
  if not agent._profile then
    local raw = cjson.decode(agent.profile)
    local languages, queues = {}, nil
    for _, language in ipairs(raw.languages or {}) do
      languages[language] = true
    end
    if raw.queues and raw.queues ~= cjson.null then
      queues = {}
      for _, name in ipairs(raw.queues) do
        queues[name] = true
      end
    end
    agent._profile = {skills = raw.skills or {}, capacity = raw.capacity or {}, languages = languages,
      queues = queues}
    if PROFILE_COUNT >= 10000 then
      PROFILES, PROFILE_COUNT = {}, 0
    end
    PROFILES[agent.profile], PROFILE_COUNT = agent._profile, PROFILE_COUNT + 1
  end
  return agent._profile
end

-- The agent's tasks (task id -> channel) to change: its own table, written back with put().
local function agent_tasks(agent)
  if not agent._tasks then
    agent._tasks = cjson.decode(agent.tasks)
  end
  return agent._tasks
end

-- The agent's tasks to read only (an idle agent's decode nothing).
local function held_tasks(agent)
  if not agent._tasks and agent.tasks == '{}' then
    return NOTHING
  end
  return agent_tasks(agent)
end

local function holds_nothing(agent)
  return next(held_tasks(agent)) == nil
end

-- The ready set holds exactly the agents that are available with no open offer (MemoryStore._ready).
local function refresh_ready(agent)
  if agent.presence == 'available' and not agent.offer then
    redis.call('SADD', P .. 'ready', agent.id)
  else
    redis.call('SREM', P .. 'ready', agent.id)
  end
end

-- policies (routing/policies.py) -------------------------------------------------------------------------

local function has_room(agent, channel)
  if agent.presence ~= 'available' or agent.offer then
    return false
  end
  local held, any = 0, false
  for _, other in pairs(held_tasks(agent)) do
    if other ~= 'ticket' then  -- DEFERRABLE_CHANNELS in routing/policies.py
      any = true
    end
    if EXCLUSIVE[other] then
      return false
    end
    if other == channel then
      held = held + 1
    end
  end
  if EXCLUSIVE[channel] and any then
    return false
  end
  return held < (profile(agent).capacity[channel] or 0)
end

local function meets(agent, target)
  local p = profile(agent)
  if p.queues and not p.queues[target.queue] then
    return false
  end
  for skill, level in pairs(target.skills) do
    if (p.skills[skill] or 0) < level then
      return false
    end
  end
  return target.language == nil or p.languages[target.language] == true
end

local function only_agent(task)
  if task._only == nil then
    task._only = cjson.decode(task.only)
  end
  return task._only
end

local function eligible(agent, task)
  if declined(task)[agent.id] then
    return false
  end
  if task.only then
    return only_agent(task) == agent.id
  end
  local preferred = task.preferred_agent
  if preferred and preferred ~= '' and agent.id ~= preferred
      and NOW - tonumber(task.queued_at) < queue_of(task.queue).preferred_agent_seconds then
    local other = agent_of(preferred)
    if other and other.presence == 'available' then
      return false
    end
  end
  for _, target in ipairs(targets(task)) do
    if meets(agent, target) then
      return true
    end
  end
  return false
end

-- The sort key of policies.pick (numbers), ties broken by the agent id.
local function pick_key(agent, strategy, wanted)
  local idle = tonumber(agent.idle_since)
  if strategy == 'most_skilled' then
    local total, skills = 0, profile(agent).skills
    for skill in pairs(wanted) do
      total = total + (skills[skill] or 0)
    end
    return {-total, idle}
  elseif strategy == 'least_occupied' then
    local total, held = 0, 0
    for _, capacity in pairs(profile(agent).capacity) do
      total = total + capacity
    end
    for _ in pairs(held_tasks(agent)) do
      held = held + 1
    end
    if total == 0 then
      total = 1
    end
    return {held / total, idle}
  elseif strategy == 'round_robin' then
    return {tonumber(agent.last_offered_at)}
  end
  return {idle}
end

local function key_lt(key, id, other_key, other_id)
  for i = 1, #key do
    if key[i] ~= other_key[i] then
      return key[i] < other_key[i]
    end
  end
  return str_lt(id, other_id)
end

local function pick(pool, task, strategy)
  local wanted = {}
  for _, target in ipairs(targets(task)) do
    for skill in pairs(target.skills) do
      wanted[skill] = true
    end
  end
  local best, best_key
  for _, agent in ipairs(pool) do
    local key = pick_key(agent, strategy, wanted)
    if not best or key_lt(key, agent.id, best_key, best.id) then
      best, best_key = agent, key
    end
  end
  return best
end

local function escalated_targets(task, step)
  local out, present = {}, {}
  for i, target in ipairs(targets(task)) do
    local skills = {}
    for skill, level in pairs(target.skills) do
      skills[skill] = math.max(1, level - (step.lower_levels_by or 0))
    end
    local language = target.language
    if step.drop_language then
      language = nil
    end
    out[i] = {queue = target.queue, skills = skills, language = language}
    present[target.queue] = true
  end
  local add = step.add_queue
  if add and add ~= '' and not present[add] and queue_of(add) then
    out[#out + 1] = queue_target(add, queue_of(add))
  end
  return out
end

local function next_deadline(task, config)
  local queued, step, steps = tonumber(task.queued_at), tonumber(task.escalation_step), config.escalation or {}
  local due
  if step < #steps then
    due = queued + steps[step + 1].after_seconds
  end
  if config.max_wait_seconds then
    local limit = queued + config.max_wait_seconds
    if not due or limit < due then
      due = limit
    end
  end
  return due
end

local function sorted_queues(list)
  local names, seen = {}, {}
  for _, target in ipairs(list) do
    if not seen[target.queue] then
      seen[target.queue] = true
      names[#names + 1] = target.queue
    end
  end
  table.sort(names, str_lt)
  return names
end

-- lines --------------------------------------------------------------------------------------------------

-- Skill names a target or queue really requires: a level of 0 is met by anyone (policies.meets).
local function required_names(skills)
  local names = {}
  for skill, level in pairs(skills or {}) do
    if level > 0 then
      names[#names + 1] = skill
    end
  end
  return names
end

-- A line entry is lenient when its target asks for less than its queue (routing/stores/lines.py): agents
-- lacking the queue's skills then still look at that line. `names` are the target's required skills.
local function is_lenient(queue, names)
  local config = queue_of(queue)
  if not config then
    return false
  end
  local held = {}
  for _, name in ipairs(names) do
    held[name] = true
  end
  for _, name in ipairs(required_names(config.skills)) do
    if not held[name] then
      return true
    end
  end
  return false
end

-- The task id of a line member.
local function line_task(member)
  return member:sub(38)
end

-- Field names in the `heads` hash: '=<line>' holds a line's first entry (see leave_lines), and '!extra'
-- says whether some line is open to every agent or holds lenient entries ('0' when none): only then does a
-- decision for an agent look beyond the lines its skills fit. Memoised, as the line names repeat.
local HEAD_FIELDS, HEAD_FIELD_COUNT = {}, 0

local function head_field(line)
  local field = HEAD_FIELDS[line]
  if not field then
    field = '=' .. line
    if HEAD_FIELD_COUNT >= 10000 then
      HEAD_FIELDS, HEAD_FIELD_COUNT = {}, 0
    end
    HEAD_FIELDS[line], HEAD_FIELD_COUNT = field, HEAD_FIELD_COUNT + 1
  end
  return field
end

-- After `open_lines` or `lenient_lines` changed: record whether either holds a line.
local function mark_extra()
  local any = redis.call('EXISTS', P .. 'open_lines', P .. 'lenient_lines') > 0
  redis.call('HSET', P .. 'heads', '!extra', any and '1' or '0')
end

-- Keep `lenient_lines` (lines holding a lenient entry) in step with the per-line count.
local function count_lenient(queue, by)
  local count, changed = redis.call('HINCRBY', P .. 'lenient', queue, by), 0
  if count > 0 then
    changed = redis.call('SADD', P .. 'lenient_lines', queue)
  else
    changed = redis.call('SREM', P .. 'lenient_lines', queue)
  end
  if changed == 1 then
    mark_extra()
  end
end

-- A line appears with its queue or with the first target naming it; until its queue is configured it
-- requires nothing, so it is open to every agent.
local function add_line(queue)
  if redis.call('SADD', P .. 'line_names', queue) == 1 and not queue_of(queue) then
    redis.call('SADD', P .. 'open_lines', queue)
    mark_extra()
  end
end

-- A task's line entry is "<order key><16-digit seq>:<id>", all at zset score 0, so a line is in member
-- order: the order key (20 digits made in Python) sorts like policies.score, and the seq keeps equal
-- scores in submission order; the seq stays while the task is in line. Numbers never go through text here,
-- and entries of different lines compare as strings: their 36-digit heads order them in any locale.
-- `entered` keeps the targets (queue, required skills) the task entered with, as WaitingLines does.
--
-- The `heads` hash keeps each line's first entry ('' for an empty line) under head_field(line), written
-- wherever an entry enters or leaves, so that a decision reads the heads of all its lines in one HMGET
-- rather than one ZRANGE per line. A line without a field (kept by a version before heads) is read from
-- its zset once.

-- Read a line's first entry from the line itself and record it: the member, or '' when the line is empty.
local function reset_head(queue)
  local first = redis.call('ZRANGE', P .. 'line:' .. queue, 0, 0)[1] or ''
  redis.call('HSET', P .. 'heads', head_field(queue), first)
  return first
end

local function line_add(queue, member)
  redis.call('ZADD', P .. 'line:' .. queue, 0, member)
  local head = redis.call('HGET', P .. 'heads', head_field(queue))
  if not head then
    reset_head(queue)
  elseif head == '' or member < head then
    redis.call('HSET', P .. 'heads', head_field(queue), member)
  end
end

local function line_remove(queue, member)
  redis.call('ZREM', P .. 'line:' .. queue, member)
  local head = redis.call('HGET', P .. 'heads', head_field(queue))
  if not head or head == member then
    reset_head(queue)
  end
end

local function leave_lines(task)
  if not task.seq then
    return
  end
  local member, seen = task.score .. task.seq .. ':' .. task.id, {}
  for _, entry in ipairs(cjson.decode(task.entered)) do
    local queue = entry[1]
    if not seen[queue] then
      seen[queue] = true
      line_remove(queue, member)
    end
    if is_lenient(queue, entry[2]) then
      count_lenient(queue, -1)
    end
  end
  put(task, 'seq', nil, 'entered', nil)
end

local function enter_lines(task)
  local seq = task.seq
  leave_lines(task)
  if not seq then
    seq = string.format('%016d', redis.call('INCR', P .. 'seq'))
  end
  local member, entered, seen = task.score .. seq .. ':' .. task.id, {}, {}
  for i, target in ipairs(targets(task)) do
    local names = required_names(target.skills)
    entered[i] = A({target.queue, A(names)})
    if not seen[target.queue] then
      seen[target.queue] = true
      line_add(target.queue, member)
      add_line(target.queue)
    end
    if is_lenient(target.queue, names) then
      count_lenient(target.queue, 1)
    end
  end
  put(task, 'seq', seq, 'entered', enc(A(entered)))
end

-- After a queue's requirements change: count its lenient entries again (WaitingLines.configure).
local function recount_lenient(queue)
  local count = 0
  for _, member in ipairs(redis.call('ZRANGE', P .. 'line:' .. queue, 0, -1)) do
    local entered = redis.call('HGET', P .. 'task:' .. line_task(member), 'entered')
    for _, entry in ipairs(entered and cjson.decode(entered) or {}) do
      if entry[1] == queue and is_lenient(queue, entry[2]) then
        count = count + 1
      end
    end
  end
  redis.call('HSET', P .. 'lenient', queue, 0)
  count_lenient(queue, count)
end

-- The requirement indexes behind fit_lines. `needs` maps each skill to the queues requiring it, with how
-- many skills each of them requires ([[queue, count], ...]); fits:<agent> holds the queues whose required
-- skills the agent all has (by name, as WaitingLines compares them), copied into the agent's hash as
-- `lines` (JSON) so that a decision reads it with the agent; `open_lines` the lines requiring none.
local function copy_fits(agent_id)
  local text = enc(A(redis.call('SMEMBERS', P .. 'fits:' .. agent_id)))
  redis.call('HSET', P .. 'agent:' .. agent_id, 'lines', text)
  local doc = cached('agent')[agent_id]
  if doc then
    doc.lines = text
  end
end

local function set_open(name, open)
  if open then
    redis.call('SADD', P .. 'open_lines', name)
  else
    redis.call('SREM', P .. 'open_lines', name)
  end
  mark_extra()
end

local function index_requirements(name, old, new)
  local function update(skill, count)
    local list, kept = redis.call('HGET', P .. 'needs', skill), {}
    for _, entry in ipairs(list and cjson.decode(list) or {}) do
      if entry[1] ~= name then
        kept[#kept + 1] = A({entry[1], entry[2]})
      end
    end
    if count then
      kept[#kept + 1] = A({name, count})
    end
    if #kept > 0 then
      redis.call('HSET', P .. 'needs', skill, enc(A(kept)))
    else
      redis.call('HDEL', P .. 'needs', skill)
    end
  end
  -- The agents having every one of these skills: those the queue fits.
  local function fitting(names)
    local keys = {}
    for i, skill in ipairs(names) do
      keys[i] = P .. 'skill:' .. skill
    end
    return redis.call('SINTER', unpack(keys))
  end
  local before, after = required_names(old and old.skills), required_names(new.skills)
  local changed = {}
  for _, skill in ipairs(before) do
    update(skill, nil)
  end
  if #before > 0 then
    for _, agent_id in ipairs(fitting(before)) do
      redis.call('SREM', P .. 'fits:' .. agent_id, name)
      changed[agent_id] = true
    end
  end
  for _, skill in ipairs(after) do
    update(skill, #after)
  end
  redis.call('SADD', P .. 'line_names', name)
  set_open(name, #after == 0)
  if #after > 0 then
    for _, agent_id in ipairs(fitting(after)) do
      redis.call('SADD', P .. 'fits:' .. agent_id, name)
      changed[agent_id] = true
    end
  end
  for agent_id in pairs(changed) do
    copy_fits(agent_id)
  end
end

-- An agent's skills changed: which queues does it fit now?
local function index_agent(agent_id, skills)
  local key, hits, names = P .. 'fits:' .. agent_id, {}, {}
  redis.call('DEL', key)
  for skill in pairs(skills) do
    names[#names + 1] = skill
  end
  if #names > 0 then
    for _, list in ipairs(redis.call('HMGET', P .. 'needs', unpack(names))) do
      for _, entry in ipairs(list and cjson.decode(list) or {}) do
        hits[entry[1]] = (hits[entry[1]] or 0) + 1
        if hits[entry[1]] == entry[2] then
          redis.call('SADD', key, entry[1])
        end
      end
    end
  end
  copy_fits(agent_id)
end

-- The lines an agent may find work in (WaitingLines.merged) are, among its queues (or all), those requiring
-- no skill it lacks (fit_lines), and those open to all or holding a lenient entry (extra_lines).
local function among_queues(agent, names)
  local queues = profile(agent).queues
  if not queues then
    return names
  end
  local out = {}
  for _, name in ipairs(names) do
    if queues[name] then
      out[#out + 1] = name
    end
  end
  return out
end

-- Read with the agent (a shared decoded list: never changed); an agent stored before `lines` existed has
-- only its fits set.
local function fit_lines(agent)
  if agent.lines then
    return among_queues(agent, decode(agent.lines))
  end
  return among_queues(agent, redis.call('SMEMBERS', P .. 'fits:' .. agent.id))
end

-- The open and lenient lines not already among `known`.
local function extra_lines(agent, known)
  local seen, out = {}, {}
  for _, name in ipairs(known) do
    seen[name] = true
  end
  for _, name in ipairs(among_queues(agent, redis.call('SUNION', P .. 'open_lines', P .. 'lenient_lines'))) do
    if not seen[name] then
      out[#out + 1] = name
    end
  end
  return out
end

-- Walk queued tasks in serving order across the named lines (a k-way merge, read lazily in chunks), like
-- MemoryStore._waiting_for: at most SCAN_LIMIT entries. Returns the first task `wanted` accepts.
local function merge_scan(names, wanted)
  local heads = {}
  for i, name in ipairs(names) do
    heads[i] = {key = P .. 'line:' .. name, buf = {}, pos = 1, from = 0, size = 1, more = true, stale = true}
  end
  -- The head's next entry; read only when the merge needs it, so a decision made on the first entry
  -- reads no further.
  local function advance(head)
    head.stale = false
    if head.pos > #head.buf then
      if head.more then
        head.buf = redis.call('ZRANGE', head.key, head.from, head.from + head.size - 1)
        head.more = #head.buf == head.size
        head.pos, head.from, head.size = 1, head.from + head.size, math.min(head.size * 8, 512)
      end
      if head.pos > #head.buf then
        head.cur = nil
        return
      end
    end
    head.cur = head.buf[head.pos]
    head.pos = head.pos + 1
  end
  local seen, count = {}, 0
  while count < SCAN_LIMIT do
    local best
    for _, head in ipairs(heads) do
      if head.stale then
        advance(head)
      end
      if head.cur and (not best or head.cur < best.cur) then
        best = head
      end
    end
    if not best then
      return nil
    end
    local id = line_task(best.cur)
    best.stale = true
    count = count + 1
    if not seen[id] then
      seen[id] = true
      local task = task_of(id, true)
      if task and task.state == 'queued' and wanted(task) then
        return task
      end
    end
  end
  return nil
end

-- Most decisions take the very first entry of the merge: try it alone first (the heads of all lines in one
-- read, no bookkeeping), and walk the lines only if it does not fit. `wanted` has no side effects, so
-- looking at the first entry twice changes nothing. For an agent, `names` are its fit lines, and the same
-- read says whether there are extra lines to add.
local function scan(names, wanted, agent)
  if SCAN_LIMIT < 1 or (#names == 0 and not agent) then
    return nil
  end
  local fields, n = {}, #names
  for i, name in ipairs(names) do
    fields[i] = head_field(name)
  end
  fields[n + 1], fields[n + 2] = '!queues', '!extra'
  local heads = redis.call('HMGET', P .. 'heads', unpack(fields, 1, agent and n + 2 or n + 1))
  know_queues(heads[n + 1])
  if agent and heads[n + 2] ~= '0' then
    local extra, all = extra_lines(agent, names), {}
    for i, name in ipairs(names) do
      all[i] = name
    end
    if #extra > 0 then
      for i, name in ipairs(extra) do
        all[n + i], fields[i] = name, head_field(name)
      end
      local more = redis.call('HMGET', P .. 'heads', unpack(fields, 1, #extra))
      for i = 1, #extra do
        heads[n + i] = more[i]
      end
    end
    names = all
  end
  local first
  for i, name in ipairs(names) do
    local head = heads[i]
    if not head then
      head = reset_head(name)
    end
    if head ~= '' and (not first or head < first) then
      first = head
    end
  end
  if not first then
    return nil
  end
  local task = task_of(line_task(first), true)
  if task and task.state == 'queued' and wanted(task) then
    return task
  end
  return merge_scan(names, wanted)
end

local function all_lines()
  return redis.call('SMEMBERS', P .. 'line_names')
end

-- matching -----------------------------------------------------------------------------------------------

-- The agent's oldest task it has room for and may take (MemoryStore._first_task_for).
local function first_task_for(agent)
  return scan(fit_lines(agent), function(task)
    return has_room(agent, task.channel) and eligible(agent, task)
  end, agent)
end

-- Candidates narrowed by each target's rarest required skill, as MemoryStore._best_agent does.
local function best_agent(task)
  local ids, everyone = {}, false
  for _, target in ipairs(targets(task)) do
    local rarest, size
    for skill, level in pairs(target.skills) do
      if level > 0 then
        local n = redis.call('SCARD', P .. 'skill:' .. skill)
        if not size or n < size then
          rarest, size = skill, n
        end
      end
    end
    if not rarest then
      everyone = true
      break
    end
    if size > 0 then
      for _, id in ipairs(redis.call('SINTER', P .. 'ready', P .. 'skill:' .. rarest)) do
        ids[id] = true
      end
    end
  end
  if everyone then
    ids = {}
    for _, id in ipairs(redis.call('SMEMBERS', P .. 'ready')) do
      ids[id] = true
    end
  end
  local fitting = {}
  for id in pairs(ids) do
    local agent = agent_of(id)
    if agent and has_room(agent, task.channel) and eligible(agent, task) then
      fitting[#fitting + 1] = agent
    end
  end
  return pick(fitting, task, queue_of(task.queue).strategy or 'longest_idle')
end

-- state changes (MemoryStore's private methods of the same names) ----------------------------------------

local function reserve(task, agent, reservation_id)
  local expires = NOW + queue_of(task.queue).offer_timeout_seconds
  local expires_text = fmt(expires)
  redis.call('HSET', P .. 'res:' .. reservation_id, 'id', reservation_id, 'task_id', task.id,
    'agent_id', agent.id, 'created_at', NOW_TEXT, 'expires_at', expires_text, 'state', 'pending')
  redis.call('ZADD', P .. 'offer_due', expires_text, reservation_id)
  put_text(task, 'state', 'reserved', 'reservation_id', reservation_id)
  local tasks
  if not agent._tasks and agent.tasks == '{}' then  -- an idle agent: its first task, without cjson
    tasks = '{' .. quote(task.id) .. ':' .. quote(task.channel) .. '}'
  else
    agent_tasks(agent)[task.id] = task.channel
    tasks = enc(agent._tasks)
  end
  put_text(agent, 'offer', reservation_id, 'last_offered_at', NOW_TEXT, 'tasks', tasks)
  refresh_ready(agent)
  emit('task.offered', task.id, agent.id, task.queue, '{"reservation_id":' .. quote(reservation_id)
    .. ',"expires_at":' .. float_json(expires_text) .. ',"channel":' .. quote(task.channel) .. '}')
end

local function set_presence_to(agent, presence, reason)
  local previous = agent.presence
  if presence ~= 'away' then
    reason = nil
  end
  if previous == presence and agent.away_reason == reason then
    return
  end
  if presence == 'available' and previous ~= 'available' then
    put(agent, 'missed_offers', 0)
    if holds_nothing(agent) then
      put(agent, 'idle_since', NOW_TEXT)
    end
  end
  put(agent, 'presence', presence, 'away_reason', reason, 'presence_since', NOW_TEXT)
  refresh_ready(agent)
  emit('agent.state', nil, agent.id, nil, O('presence', presence, 'previous', previous, 'reason', reason))
end

-- An offer leaves `offer_due` as soon as it is no longer open, so the set holds only the open offers.
local function close_offer(reservation, state)
  put(reservation, 'state', state)
  redis.call('ZREM', P .. 'offer_due', reservation.id)
end

local function release_offer(reservation, state, decline, reason)
  local task, agent = task_of(reservation.task_id), agent_of(reservation.agent_id)
  close_offer(reservation, state)
  put(agent, 'offer', nil)
  agent_tasks(agent)[task.id] = nil
  put(agent, 'tasks', enc(agent._tasks))
  if decline then
    add_declined(task, agent.id)
  end
  if task.state == 'reserved' and task.reservation_id == reservation.id then
    put(task, 'state', 'queued', 'reservation_id', nil)
  end
  refresh_ready(agent)
  local data = O('reservation_id', reservation.id)
  if reason then
    data = O('reservation_id', reservation.id, 'reason', reason)
  end
  emit(RELEASED[state], task.id, agent.id, task.queue, data)
end

local function time_out(reservation)
  release_offer(reservation, 'timed_out', true)
  local agent, task = agent_of(reservation.agent_id), task_of(reservation.task_id)
  local missed = tonumber(agent.missed_offers) + 1
  put(agent, 'missed_offers', missed)
  local limit = queue_of(task.queue).missed_offers_limit
  if limit and limit ~= 0 and missed >= limit and agent.presence == 'available' then
    set_presence_to(agent, 'away', 'missed offers')
  end
end

local function withdraw(reservation, reason)
  release_offer(reservation, 'withdrawn', false, reason)
end

local function after_release(agent)
  if holds_nothing(agent) then
    put(agent, 'idle_since', NOW_TEXT)
  end
  refresh_ready(agent)
end

local function since_assigned(task)
  return F(NOW - (tonumber(task.assigned_at) or NOW))
end

local function finish_wrap_up(task)
  put(task, 'state', 'completed', 'ended_at', NOW_TEXT, 'wrap_up_until', nil)
  local agent = task.agent_id and agent_of(task.agent_id)
  if agent then
    agent_tasks(agent)[task.id] = nil
    put(agent, 'tasks', enc(agent._tasks))
    after_release(agent)
  end
  emit('task.wrapped', task.id, task.agent_id, task.queue,
    O('handle', since_assigned(task), 'channel', task.channel))
end

local function end_task(task, state, reason)
  put(task, 'state', state, 'end_reason', reason, 'ended_at', NOW_TEXT)
  leave_lines(task)
end

-- Deadline entries are "<16-digit version>:<id>"; only the current version counts, as in MemoryStore.
local function deadline_member(version, task_id)
  return string.format('%016d', version) .. ':' .. task_id
end

local function schedule_deadline(task, config)
  local old = tonumber(task.dver) or 0
  redis.call('ZREM', P .. 'deadlines', deadline_member(old, task.id))
  put(task, 'dver', old + 1)
  local due = next_deadline(task, config)
  if due then
    redis.call('ZADD', P .. 'deadlines', fmt(due), deadline_member(old + 1, task.id))
  end
end

local function fall_back(task, config)
  local fallback = config.text_fallback
  if task.channel == 'voice' then
    fallback = config.voice_fallback
  end
  if task.state == 'reserved' and task.reservation_id then
    withdraw(res_of(task.reservation_id), 'maximum wait')
  end
  local next_queue = fallback and fallback.action == 'queue' and fallback.queue and queue_of(fallback.queue)
  if next_queue then
    add_history(task, O('at', F(NOW, NOW_TEXT), 'from_queue', task.queue, 'to_queue', fallback.queue,
      'note', 'maximum wait'))
    emit('task.fell_back', task.id, nil, task.queue, O('action', 'queue', 'to_queue', fallback.queue))
    put(task, 'queue', fallback.queue, 'escalation_step', 0, 'queued_at', NOW_TEXT)
    set_targets(task, {queue_target(fallback.queue, next_queue)})
    enter_lines(task)
    schedule_deadline(task, next_queue)
    return
  end
  local action = fallback and fallback.action or 'none'
  end_task(task, 'fell_back', action)
  emit('task.fell_back', task.id, nil, task.queue,
    O('action', action, 'wait', F(NOW - tonumber(task.created_at)), 'channel', task.channel))
end

local function escalate(task)
  local config = queue_of(task.queue)
  local waited = NOW - tonumber(task.queued_at)
  if config.max_wait_seconds and waited >= config.max_wait_seconds then
    return fall_back(task, config)
  end
  local steps, step = config.escalation or {}, tonumber(task.escalation_step)
  while step < #steps and steps[step + 1].after_seconds <= waited do
    set_targets(task, escalated_targets(task, steps[step + 1]))
    step = step + 1
    put(task, 'escalation_step', step)
    emit('task.escalated', task.id, nil, task.queue,
      O('step', step, 'queues', A(sorted_queues(targets(task)))))
  end
  enter_lines(task)
  schedule_deadline(task, config)
end

-- errors, worded as MemoryStore's ------------------------------------------------------------------------

local function no_task(id)
  return fail('UnknownTask', 'task ' .. id .. ' does not exist')
end

local function no_agent(id)
  return fail('UnknownAgent', 'agent ' .. id .. ' does not exist')
end

local function no_queue(name)
  return fail('UnknownQueue', 'queue ' .. name .. ' does not exist')
end

-- end of the prelude; the operation follows --------------------------------------------------------------
