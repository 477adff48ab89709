-- Picket's Lua sandbox, run once per VM with the real globals table and the Rust pieces.
-- It builds Redis 7.0's environment: only the allowed globals, every library table read-only,
-- reading a missing global an error, no global may be created, and the error handler that
-- gives an error its script line.
local G, R = ...
local error, type, tostring, setmt, select, unpack, pairs =
      error, type, tostring, setmetatable, select, unpack, pairs
local rawset_, getinfo, xpcall_, loadstring_, setfenv = rawset, debug.getinfo, xpcall, loadstring, setfenv
local concat = table.concat

local ro = setmt({}, {__mode = 'k'})
local function deny() error('Attempt to modify a readonly table', 2) end
local function readonly(t)
  local view = setmt({}, {__index = {}, __newindex = deny, __metatable = false})
  ro[view] = true
  local p = setmt({}, {__index = t, __newindex = deny, __metatable = view})
  ro[p] = true
  return p
end

local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end

local env = nil
local function set_env(f) if f and env then setfenv(f, env) end return f end
local allowed = {
  assert = true, collectgarbage = true, coroutine = true, error = true, gcinfo = true,
  getmetatable = true, ipairs = true, next = true, pairs = true, pcall = true,
  rawequal = true, rawget = true, select = true, tonumber = true, tostring = true,
  type = true, unpack = true, xpcall = true, _VERSION = true,
  string = true, table = true, math = true,
}
for k in pairs(copy(G)) do
  if not allowed[k] then G[k] = nil end
end

G.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  return set_env(loadstring_(s, name))
end
G.load = function(reader, name)
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    parts[#parts + 1] = piece
  end
  return G.loadstring(concat(parts), name)
end
G.setmetatable = function(t, mt)
  if ro[t] then error('Attempt to modify a readonly table', 0) end
  return setmt(t, mt)
end
G.rawset = function(t, k, v)
  if ro[t] then error('Attempt to modify a readonly table', 0) end
  return rawset_(t, k, v)
end

local math_ = copy(math)
math_.random = R.random
math_.randomseed = R.randomseed
G.math = math_

local redis = {}
redis.call = R.call
redis.pcall = R.pcall
redis.error_reply = function(...)
  local msg = ...
  if select('#', ...) ~= 1 or type(msg) ~= 'string' then
    return {err = 'wrong number or type of arguments'}
  end
  -- One leading '-' is the reply's own; a message without a code (no space) gets ERR.
  if msg:sub(1, 1) == '-' then msg = msg:sub(2) end
  if not msg:find(' ', 1, true) then msg = 'ERR ' .. msg end
  return {err = msg}
end
redis.status_reply = function(...)
  local msg = ...
  if select('#', ...) ~= 1 or type(msg) ~= 'string' then
    return {err = 'wrong number or type of arguments'}
  end
  return {ok = msg}
end
redis.sha1hex = R.sha1hex
redis.log = R.log
redis.setresp = R.setresp
redis.set_repl = R.set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = function(...)
  if select('#', ...) < 1 then error({err = 'Please specify at least one argument for this redis lib call'}) end
  return R.acl_check_cmd(...)
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = R.version
redis.REDIS_VERSION_NUM = R.version_num
G.redis = redis
G.cjson = R.cjson
G.cmsgpack = R.cmsgpack
G.struct = R.struct
G.bit = R.bit

-- The error handler: the error as a table {err=..., source=..., line=...}, the line being
-- the script's own (not a library's, not Picket's).
local failure = R.failure
local function errh(err)
  local level, info = 2, nil
  while true do
    info = getinfo(level, 'Sl')
    if info == nil or (info.what ~= 'C' and info.source ~= '@picket') then break end
    level = level + 1
  end
  if type(err) == 'userdata' then err = failure(err) end
  if type(err) == 'table' then
    err = {err = err.err, ignore_error_stats_update = err.ignore_error_stats_update}
  else
    err = {err = 'ERR ' .. tostring(err)}
  end
  if info then err.source = info.source; err.line = info.currentline end
  return err
end
G.__redis__err__handler = errh

-- redis.call's errors are {err=...} tables with this metatable; pcall hands the script the
-- message alone (a string), as Redis 7.0 does, and Rust's errors as their text.
local error_mt, getmt, pcall_, caught_text = {}, getmetatable, pcall, R.caught
local function caught(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' and getmt(e) == error_mt then return false, e.err end
  if type(e) == 'userdata' then return false, caught_text(e) end
  return false, e
end
G.pcall = function(...) return caught(pcall_(...)) end

for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'redis', 'cjson', 'cmsgpack', 'struct', 'bit'}) do
  G[name] = readonly(G[name])
end

-- Missing globals are errors; the scripts' environment is a read-only view of the globals.
setmt(G, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end})
env = readonly(G)
rawset_(G, '_G', env)

local function run(f) return xpcall_(f, errh) end
local function fcall(f, keys, args) return xpcall_(function() return f(keys, args) end, errh) end
return env, run, fcall, set_env, error_mt
