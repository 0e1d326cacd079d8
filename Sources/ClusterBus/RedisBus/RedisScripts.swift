/// The Lua scripts that make every cluster operation atomic in Redis. Each script that
/// changes state also PUBLISHes the event it causes, inside the same atomic step, so a
/// state change and its notification cannot come apart. docs/cluster.md describes the key
/// layout and the message formats they share with `RedisClusterBus`.
///
/// Every script gets the key prefix as ARGV[1]. Separators inside values are 0x1F (`\31`),
/// which the wire refuses in XML text, so no name or description can contain it.
enum RedisScripts {
    /// Functions shared by the scripts (prepended to each).
    static let prelude = #"""
    local P = ARGV[1]
    local SEP = '\31'
    local function split2(s)
      local i = string.find(s, SEP, 1, true)
      return string.sub(s, 1, i - 1), string.sub(s, i + 1)
    end
    local function node_alive(node)
      return node and redis.call('EXISTS', P .. 'node:' .. node .. ':alive') == 1
    end
    -- a room as a flat list: name, users, capacity, password-protected, updatable, hidden, description
    local function room_fields(zone, name)
      local r = redis.call('HMGET', P .. 'room:' .. zone .. SEP .. name, 'pw', 'cap', 'upd', 'hidden', 'desc')
      local users = redis.call('ZCARD', P .. 'room:' .. zone .. SEP .. name .. ':m')
      return {name, users, r[2] or '-1', (r[1] and r[1] ~= '') and '1' or '0', r[3] or '1', r[4] or '0', r[5] or ''}
    end
    local function zone_users(zone)
      return tonumber(redis.call('GET', P .. 'zone:' .. zone .. ':users') or '0')
    end
    -- UpdateRoomList for the zone channel: kind, zone, zone users, then the room fields
    local function zone_event(kind, zone, fields)
      if fields[6] == '1' then return end -- hidden rooms are never listed
      redis.call('PUBLISH', P .. 'ch:zones', kind .. zone .. SEP .. zone_users(zone) .. SEP .. table.concat(fields, SEP, 1, 7))
    end
    -- a zone's listed rooms: zone users, then 7 fields per visible room, in creation order
    local function listing(zone)
      local out = {zone_users(zone)}
      for _, name in ipairs(redis.call('ZRANGE', P .. 'zone:' .. zone .. ':rooms', 0, -1)) do
        local f = room_fields(zone, name)
        if f[6] ~= '1' then
          for _, v in ipairs(f) do out[#out + 1] = v end
        end
      end
      return out
    end
    local function add_zone_user(zone, delta)
      local key = P .. 'zone:' .. zone .. ':users'
      if redis.call('INCRBY', key, delta) <= 0 then redis.call('DEL', key) end
    end
    -- the next sequence number, or `given` (a restored order) keeping the counter above it
    local function next_seq(given)
      local n = tonumber(given or '')
      if n and n > 0 then
        if tonumber(redis.call('GET', P .. 'seq') or '0') < n then redis.call('SET', P .. 'seq', n) end
        return n
      end
      return redis.call('INCR', P .. 'seq')
    end
    local function create_room(zone, name, pw, hidden, upd, cap, desc, perm, order)
      local rkey = P .. 'room:' .. zone .. SEP .. name
      redis.call('HSET', rkey, 'pw', pw, 'hidden', hidden, 'upd', upd, 'cap', cap, 'desc', desc, 'perm', perm)
      redis.call('INCR', P .. 'roomcount')
      redis.call('ZADD', P .. 'zone:' .. zone .. ':rooms', next_seq(order), name)
    end
    -- takes a session out of its room: UserLeft to the room, then the room list change
    local function leave_room(sid, ref, profile)
      local zone, name = split2(ref)
      local rkey = P .. 'room:' .. ref
      if redis.call('ZREM', rkey .. ':m', sid) == 0 then return end
      redis.call('PUBLISH', P .. 'ch:room:' .. ref, 'L' .. sid .. SEP .. profile)
      local f = room_fields(zone, name)
      if f[2] == 0 and redis.call('HGET', rkey, 'perm') ~= '1' then
        redis.call('DEL', rkey, rkey .. ':m')
        redis.call('ZREM', P .. 'zone:' .. zone .. ':rooms', name)
        redis.call('DECR', P .. 'roomcount')
        zone_event('D', zone, f)
      else
        zone_event('U', zone, f)
      end
    end
    -- ends a session everywhere: its room, its zone count, its name, its node's set
    local function release(sid)
      local skey = P .. 's:' .. sid
      local s = redis.call('HMGET', skey, 'zone', 'room', 'profile', 'node', 'key')
      if not s[4] then return 0 end
      add_zone_user(s[1], -1)
      if s[2] and s[2] ~= '' then leave_room(sid, s[2], s[3]) end
      if redis.call('HGET', P .. 'names', s[5]) == sid then redis.call('HDEL', P .. 'names', s[5]) end
      redis.call('SREM', P .. 'node:' .. s[4] .. ':sessions', sid)
      redis.call('DEL', skey)
      return 1
    end
    -- removes a node and every session of it
    local function reap(node)
      local n = 0
      for _, sid in ipairs(redis.call('SMEMBERS', P .. 'node:' .. node .. ':sessions')) do
        n = n + release(sid)
      end
      redis.call('DEL', P .. 'node:' .. node .. ':sessions', P .. 'node:' .. node .. ':alive')
      redis.call('SREM', P .. 'nodes', node)
      return n
    end
    -- the name's owner, if that owner is alive; a dead node's session is released first
    local function live_owner(key)
      local owner = redis.call('HGET', P .. 'names', key)
      if not owner then return nil end
      if node_alive(redis.call('HGET', P .. 's:' .. owner, 'node')) then return owner end
      release(owner)
      redis.call('HDEL', P .. 'names', key)
      return nil
    end
    """#

    /// ARGV: prefix, session, node, name key, profile, zone → {1, listing...} or {0}
    static let login = #"""
    local sid, node, key, profile, zone = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
    if redis.call('EXISTS', P .. 's:' .. sid) == 1 then return {0} end
    if live_owner(key) then return {0} end
    redis.call('HSET', P .. 'names', key, sid)
    redis.call('HSET', P .. 's:' .. sid, 'node', node, 'key', key, 'profile', profile, 'zone', zone, 'room', '')
    redis.call('SADD', P .. 'node:' .. node .. ':sessions', sid)
    add_zone_user(zone, 1)
    local out = {1}
    for _, v in ipairs(listing(zone)) do out[#out + 1] = v end
    return out
    """#

    /// ARGV: prefix, session, zone, room, password, create (0/1), hidden, updatable,
    /// capacity, description, max rooms (-1: none)
    /// → {'E', reason} or {'OK', created, left ref, zone users, 7 room fields, member count,
    ///    profiles..., zone changed (0/1), [listing...]}
    static let join = #"""
    local sid, zone, name, pw, create = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
    local skey = P .. 's:' .. sid
    local s = redis.call('HMGET', skey, 'zone', 'room', 'profile')
    if not s[3] then return {'E', 'Not logged in'} end
    local ref = zone .. SEP .. name
    local rkey = P .. 'room:' .. ref
    if create ~= '1' and s[2] == ref then return {'E', 'Already in room'} end
    if create == '1' then
      if redis.call('EXISTS', rkey) == 1 then return {'E', 'Room already exists'} end
      local max = tonumber(ARGV[11])
      if max >= 0 and tonumber(redis.call('GET', P .. 'roomcount') or '0') >= max then return {'E', 'Too many rooms'} end
      create_room(zone, name, pw, ARGV[7], ARGV[8], ARGV[9], ARGV[10], '0')
    else
      local r = redis.call('HMGET', rkey, 'pw', 'cap')
      if not r[1] then return {'E', 'Room does not exist'} end
      if r[1] ~= '' and r[1] ~= pw then return {'E', 'Incorrect password'} end
      local cap = tonumber(r[2]) or -1
      if cap >= 0 and redis.call('ZCARD', rkey .. ':m') >= cap then return {'E', 'Room is full'} end
    end
    local left = s[2] or ''
    local changed = s[1] ~= zone
    if changed then
      add_zone_user(s[1], -1)
      add_zone_user(zone, 1)
    end
    if left ~= '' then leave_room(sid, left, s[3]) end
    redis.call('HSET', skey, 'zone', zone, 'room', ref)
    local order = redis.call('INCR', P .. 'seq')
    redis.call('ZADD', rkey .. ':m', order, sid)
    local f = room_fields(zone, name)
    zone_event(create == '1' and 'C' or 'U', zone, f)
    redis.call('PUBLISH', P .. 'ch:room:' .. ref, 'J' .. sid .. SEP .. s[3])
    local out = {'OK', create, left, zone_users(zone)}
    for _, v in ipairs(f) do out[#out + 1] = v end
    out[#out + 1] = order
    out[#out + 1] = redis.call('ZSCORE', P .. 'zone:' .. zone .. ':rooms', name) or '0'
    local members = redis.call('ZRANGE', rkey .. ':m', 0, -1)
    out[#out + 1] = #members
    for _, m in ipairs(members) do out[#out + 1] = redis.call('HGET', P .. 's:' .. m, 'profile') or '' end
    if changed then
      out[#out + 1] = 1
      for _, v in ipairs(listing(zone)) do out[#out + 1] = v end
    else
      out[#out + 1] = 0
    end
    return out
    """#

    /// ARGV: prefix, session → 1 (left) or 0 (in no room)
    static let leave = #"""
    local sid = ARGV[2]
    local skey = P .. 's:' .. sid
    local s = redis.call('HMGET', skey, 'room', 'profile')
    if not s[1] or s[1] == '' then return 0 end
    leave_room(sid, s[1], s[2])
    redis.call('HSET', skey, 'room', '')
    return 1
    """#

    /// ARGV: prefix, session → 1 (released) or 0 (unknown session)
    static let logout = #"""
    return release(ARGV[2])
    """#

    /// ARGV: prefix, payload, name keys... → the 1-based positions of unknown names
    static let sendPrivate = #"""
    local missing = {}
    for i = 3, #ARGV do
      local sid = redis.call('HGET', P .. 'names', ARGV[i])
      local node = sid and redis.call('HGET', P .. 's:' .. sid, 'node')
      if node then
        redis.call('PUBLISH', P .. 'ch:node:' .. node, 'P' .. sid .. SEP .. ARGV[2])
      else
        missing[#missing + 1] = i - 2
      end
    end
    return missing
    """#

    /// ARGV: prefix, zone → listing
    static let listing = #"""
    return listing(ARGV[2])
    """#

    /// ARGV: prefix, node, ttl ms → 1 if the node was not registered (new, or lost by
    /// Redis: the caller re-registers its sessions), else 0
    static let heartbeat = #"""
    redis.call('SET', P .. 'node:' .. ARGV[2] .. ':alive', '1', 'PX', ARGV[3])
    return redis.call('SADD', P .. 'nodes', ARGV[2])
    """#

    /// ARGV: prefix, this node → the nodes reaped (dead: registered, heartbeat expired)
    static let reapDead = #"""
    local reaped = {}
    for _, node in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do
      if node ~= ARGV[2] and not node_alive(node) then
        reap(node)
        reaped[#reaped + 1] = node
      end
    end
    return reaped
    """#

    /// ARGV: prefix, node → sessions removed (a node leaving on purpose)
    static let deregister = #"""
    return reap(ARGV[2])
    """#

    /// ARGV: prefix, zone, room, password, hidden, updatable, capacity, description,
    /// announce (1: push it as created; 0: Redis lost it, clients list it already) → 1 if created
    static let ensurePermanentRoom = #"""
    local zone, name = ARGV[2], ARGV[3]
    local rkey = P .. 'room:' .. zone .. SEP .. name
    if redis.call('EXISTS', rkey) == 1 then
      redis.call('HSET', rkey, 'perm', '1')
      return 0
    end
    create_room(zone, name, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], '1')
    zone_event(ARGV[9] == '1' and 'C' or 'U', zone, room_fields(zone, name))
    return 1
    """#

    /// ARGV: prefix, candidate → the cluster's epoch: a random value set once per Redis
    /// lifetime. A node that sees it change knows Redis lost its state (nobody saw its
    /// sessions leave); the same epoch means the node itself was reaped (everybody did).
    static let epoch = #"""
    redis.call('SET', P .. 'epoch', ARGV[2], 'NX')
    return redis.call('GET', P .. 'epoch')
    """#

    /// Puts back a live session that Redis lost (restart without persistence, or this node
    /// was taken for dead). ARGV: prefix, node, session, name key, profile, zone, room ref or
    /// '', password, hidden, updatable, capacity, description, permanent, member order, room
    /// order (both as first given, so join and creation order survive), announce (1 when
    /// the others saw the session leave: publish its join again)
    /// → 'present', 'restored', or 'conflict' (a live session of another node has the name)
    static let restore = #"""
    local node, sid, key, profile, zone, ref = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
    local skey = P .. 's:' .. sid
    if redis.call('EXISTS', skey) == 1 then return 'present' end
    local owner = live_owner(key)
    if owner and owner ~= sid then return 'conflict' end
    redis.call('HSET', P .. 'names', key, sid)
    redis.call('HSET', skey, 'node', node, 'key', key, 'profile', profile, 'zone', zone, 'room', ref)
    redis.call('SADD', P .. 'node:' .. node .. ':sessions', sid)
    add_zone_user(zone, 1)
    if ref ~= '' then
      local rzone, name = split2(ref)
      local rkey = P .. 'room:' .. ref
      local fresh = redis.call('EXISTS', rkey) == 0
      local announce = ARGV[16] == '1'
      if fresh then create_room(rzone, name, ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[15]) end
      redis.call('ZADD', rkey .. ':m', next_seq(ARGV[14]), sid)
      zone_event((fresh and announce) and 'C' or 'U', rzone, room_fields(rzone, name))
      if announce then redis.call('PUBLISH', P .. 'ch:room:' .. ref, 'J' .. sid .. SEP .. profile) end
    end
    return 'restored'
    """#
}
