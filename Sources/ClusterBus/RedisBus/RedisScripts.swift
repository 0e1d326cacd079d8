/// The Lua scripts that make every cluster operation atomic in Redis. Each script that
/// changes state also PUBLISHes the event it causes, inside the same atomic step, so a
/// state change and its notification cannot come apart. docs/cluster.md describes the key
/// layout and the message formats they share with `RedisClusterBus`.
///
/// Every script gets the key prefix as ARGV[1]. Separators inside values are 0x1F (`\31`),
/// which the wire refuses in XML text, so no name or description can contain it.
///
/// Redis does not roll back a script that fails halfway: whatever it wrote before the
/// failing command stays. So every script first checks (`need`) that each key it is going
/// to write is absent or of the type it expects, then makes every decision that can refuse
/// the operation, and only then writes; what it reads after its writes is for its reply.
enum RedisScripts {
    /// Functions shared by the scripts (prepended to each).
    static let prelude = #"""
    local P = ARGV[1]
    local SEP = '\31'
    -- Key names (docs/cluster.md, "Keys"; RedisKeys.swift): after the prefix, a fixed name
    -- without ':', or a family tag up to the first ':' and then one supplied part, LAST.
    local K_NAMES, K_NODES, K_SEQ, K_ROOMCOUNT, K_EPOCH = P .. 'names', P .. 'nodes', P .. 'seq', P .. 'roomcount', P .. 'epoch'
    local function K_session(sid) return P .. 's:' .. sid end
    local function K_nodesessions(node) return P .. 'sessions:' .. node end
    local function K_alive(node) return P .. 'alive:' .. node end
    local function K_room(ref) return P .. 'room:' .. ref end
    local function K_members(ref) return P .. 'members:' .. ref end
    local function K_zrooms(zone) return P .. 'zrooms:' .. zone end
    local function K_zusers(zone) return P .. 'zusers:' .. zone end
    local function K_pwfails(key) return P .. 'pwfails:' .. key end
    local function K_pwlock(key) return P .. 'pwlock:' .. key end
    local function K_hist(ref) return P .. 'hist:' .. ref end
    local function K_ban(key) return P .. 'ban:' .. key end
    local function K_addrban(addr) return P .. 'addrban:' .. addr end
    local K_REAPER = P .. 'reaper'
    -- A room's history (docs/cluster.md, "Sequenced room streams"): its last HIST_MAX events,
    -- kept until the room is deleted or quiet for HIST_MS.
    local HIST_MAX, HIST_MS = 512, 120000
    local CH_ZONES = P .. 'ch:zones'
    local function CH_room(ref) return P .. 'ch:room:' .. ref end
    local function CH_node(node) return P .. 'ch:node:' .. node end
    local function split2(s)
      local i = string.find(s, SEP, 1, true)
      return string.sub(s, 1, i - 1), string.sub(s, i + 1)
    end
    -- Fails the script with WRONGTYPE unless each key is absent or of the given type. Called
    -- for every key a script will write, before its first write.
    local function need(...)
      local spec = {...}
      for i = 1, #spec, 2 do
        local t = redis.call('TYPE', spec[i]).ok
        if t ~= 'none' and t ~= spec[i + 1] then
          error({err = 'WRONGTYPE ' .. spec[i] .. ' is a ' .. t .. ', not a ' .. spec[i + 1]})
        end
      end
    end
    -- the keys leave_room writes (or reads after writing) when a session leaves `ref`
    local function need_room(ref)
      local zone = split2(ref)
      need(K_room(ref), 'hash', K_members(ref), 'zset', K_zrooms(zone), 'zset', K_zusers(zone), 'string', K_ROOMCOUNT, 'string',
           K_hist(ref), 'list')
    end
    local function node_alive(node)
      return node and redis.call('EXISTS', K_alive(node)) == 1
    end
    -- a room as a flat list: name, users, capacity, password-protected, updatable, hidden, description
    local function room_fields(zone, name)
      local ref = zone .. SEP .. name
      local r = redis.call('HMGET', K_room(ref), 'pw', 'cap', 'upd', 'hidden', 'desc')
      local users = redis.call('ZCARD', K_members(ref))
      return {name, users, r[2] or '-1', (r[1] and r[1] ~= '') and '1' or '0', r[3] or '1', r[4] or '0', r[5] or ''}
    end
    local function zone_users(zone)
      return tonumber(redis.call('GET', K_zusers(zone)) or '0')
    end
    -- UpdateRoomList for the zone channel: kind, zone, zone users, then the room fields
    local function zone_event(kind, zone, fields)
      if fields[6] == '1' then return end -- hidden rooms are never listed
      redis.call('PUBLISH', CH_ZONES, kind .. zone .. SEP .. zone_users(zone) .. SEP .. table.concat(fields, SEP, 1, 7))
    end
    -- a zone's listed rooms: zone users, then 7 fields per visible room, in creation order
    local function listing(zone)
      local out = {zone_users(zone)}
      for _, name in ipairs(redis.call('ZRANGE', K_zrooms(zone), 0, -1)) do
        local f = room_fields(zone, name)
        if f[6] ~= '1' then
          for _, v in ipairs(f) do out[#out + 1] = v end
        end
      end
      return out
    end
    local function add_zone_user(zone, delta)
      local key = K_zusers(zone)
      if redis.call('INCRBY', key, delta) <= 0 then redis.call('DEL', key) end
    end
    -- the next sequence number, or `given` (a restored order) keeping the counter above it
    local function next_seq(given)
      local n = tonumber(given or '')
      if n and n > 0 then
        if tonumber(redis.call('GET', K_SEQ) or '0') < n then redis.call('SET', K_SEQ, n) end
        return n
      end
      return redis.call('INCR', K_SEQ)
    end
    -- A room's stream: `inc` (its incarnation: Redis's clock in microseconds at creation,
    -- so a room deleted and created again, even by a Redis that lost everything, is
    -- another stream) and `seq` (its last event's number).
    local function create_room(zone, name, pw, hidden, upd, cap, desc, perm, order)
      local t = redis.call('TIME')
      redis.call('HSET', K_room(zone .. SEP .. name), 'pw', pw, 'hidden', hidden, 'upd', upd, 'cap', cap, 'desc', desc, 'perm', perm,
                 'inc', t[1] .. string.format('%06d', tonumber(t[2])), 'seq', 0)
      redis.call('INCR', K_ROOMCOUNT)
      redis.call('ZADD', K_zrooms(zone), next_seq(order), name)
    end
    -- publishes a room event (body: M, J or L and its data) as `S<inc>:<seq> US body`, the
    -- room's next number, and keeps it in the room's bounded history. The room exists.
    -- Returns the event's incarnation, number and the nodes that received it.
    local function room_event(ref, body)
      local rkey, hkey = K_room(ref), K_hist(ref)
      local inc = redis.call('HGET', rkey, 'inc') or '0'
      local seq = redis.call('HINCRBY', rkey, 'seq', 1)
      local payload = 'S' .. inc .. ':' .. seq .. SEP .. body
      redis.call('RPUSH', hkey, payload)
      redis.call('LTRIM', hkey, -HIST_MAX, -1)
      redis.call('PEXPIRE', hkey, HIST_MS)
      return inc, seq, redis.call('PUBLISH', CH_room(ref), payload)
    end
    -- takes a session out of its room: UserLeft to the room, then the room list change
    -- (the caller checked need_room(ref))
    local function leave_room(sid, ref, profile)
      local zone, name = split2(ref)
      local rkey, mkey = K_room(ref), K_members(ref)
      if redis.call('ZREM', mkey, sid) == 0 then return end
      room_event(ref, 'L' .. sid .. SEP .. profile)
      local f = room_fields(zone, name)
      if f[2] == 0 and redis.call('HGET', rkey, 'perm') ~= '1' then
        redis.call('DEL', rkey, mkey, K_hist(ref))
        redis.call('ZREM', K_zrooms(zone), name)
        redis.call('DECR', K_ROOMCOUNT)
        zone_event('D', zone, f)
      else
        zone_event('U', zone, f)
      end
    end
    -- ends a session everywhere: its room, its zone count, its name, its node's set
    local function release(sid)
      local skey = K_session(sid)
      need(skey, 'hash')
      local s = redis.call('HMGET', skey, 'zone', 'room', 'profile', 'node', 'key')
      if not s[4] then return 0 end
      need(K_zusers(s[1]), 'string', K_NAMES, 'hash', K_nodesessions(s[4]), 'set')
      if s[2] and s[2] ~= '' then need_room(s[2]) end
      add_zone_user(s[1], -1)
      if s[2] and s[2] ~= '' then leave_room(sid, s[2], s[3]) end
      if redis.call('HGET', K_NAMES, s[5]) == sid then redis.call('HDEL', K_NAMES, s[5]) end
      redis.call('SREM', K_nodesessions(s[4]), sid)
      redis.call('DEL', skey)
      return 1
    end
    -- removes a node and every session of it (each session is released whole)
    local function reap(node)
      need(K_nodesessions(node), 'set', K_NODES, 'set')
      local n = 0
      for _, sid in ipairs(redis.call('SMEMBERS', K_nodesessions(node))) do
        n = n + release(sid)
      end
      redis.call('DEL', K_nodesessions(node), K_alive(node))
      redis.call('SREM', K_NODES, node)
      return n
    end
    -- the name's owner, if that owner is alive; a dead node's session is released first
    -- (the caller checked need(K_NAMES, 'hash'))
    local function live_owner(key)
      local owner = redis.call('HGET', K_NAMES, key)
      if not owner then return nil end
      need(K_session(owner), 'hash')
      if node_alive(redis.call('HGET', K_session(owner), 'node')) then return owner end
      release(owner)
      redis.call('HDEL', K_NAMES, key)
      return nil
    end
    """#

    /// ARGV: prefix, session, node, name key, profile, zone, client address
    /// → {1, listing...}, {0} (name in use) or {2} (name banned)
    static let login = #"""
    local sid, node, key, profile, zone, addr = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7] or ''
    local skey = K_session(sid)
    need(skey, 'hash', K_NAMES, 'hash', K_nodesessions(node), 'set', K_zusers(zone), 'string')
    if redis.call('EXISTS', K_ban(key)) == 1 then return {2} end
    if redis.call('EXISTS', skey) == 1 then return {0} end
    if live_owner(key) then return {0} end
    redis.call('HSET', K_NAMES, key, sid)
    redis.call('HSET', skey, 'node', node, 'key', key, 'profile', profile, 'zone', zone, 'room', '', 'addr', addr)
    redis.call('SADD', K_nodesessions(node), sid)
    add_zone_user(zone, 1)
    local out = {1}
    for _, v in ipairs(listing(zone)) do out[#out + 1] = v end
    return out
    """#

    /// ARGV: prefix, session, zone, room, password, create (0/1), hidden, updatable,
    /// capacity, description, max rooms (-1: none), max rooms per zone (-1: none)
    /// → {'E', reason} or {'OK', created, left ref, zone users, 7 room fields, member order,
    ///    room order, the join event's incarnation and number, member count,
    ///    (session, profile)..., zone changed (0/1), [listing...]}
    ///
    /// Types first, then every check, then the writes: a refused or failing join writes nothing.
    static let join = #"""
    local sid, zone, name, pw, create = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6] == '1'
    local max_rooms, max_zone_rooms = tonumber(ARGV[11]), tonumber(ARGV[12])
    if not (max_rooms and max_zone_rooms) then return redis.error_reply('ERR join: a room limit is not a number') end
    local skey = K_session(sid)
    need(skey, 'hash')
    local s = redis.call('HMGET', skey, 'zone', 'room', 'profile')
    if not s[3] then return {'E', 'Not logged in'} end
    -- A zone with SEP would make `ref` ambiguous. Zone and room names never contain it (the
    -- wire and the name rules refuse control characters): this is belt and braces.
    if string.find(zone, SEP, 1, true) or string.find(name, SEP, 1, true) then
      return {'E', 'Room name contains invalid characters'}
    end
    local ref = zone .. SEP .. name
    local rkey, mkey = K_room(ref), K_members(ref)
    local left = s[2] or ''
    local changed = s[1] ~= zone
    need(rkey, 'hash', mkey, 'zset', K_zrooms(zone), 'zset', K_zusers(zone), 'string', K_ROOMCOUNT, 'string', K_SEQ, 'string',
         K_hist(ref), 'list')
    if changed then need(K_zusers(s[1]), 'string') end
    if left ~= '' then need_room(left) end
    if not create and left == ref then return {'E', 'Already in room'} end
    if create then
      if redis.call('EXISTS', rkey) == 1 then return {'E', 'Room already exists'} end
      if max_rooms >= 0 and tonumber(redis.call('GET', K_ROOMCOUNT) or '0') >= max_rooms then return {'E', 'Too many rooms'} end
      if max_zone_rooms >= 0 and redis.call('ZCARD', K_zrooms(zone)) >= max_zone_rooms then return {'E', 'Too many rooms'} end
    else
      local r = redis.call('HMGET', rkey, 'pw', 'cap')
      if not r[1] then return {'E', 'Room does not exist'} end
      if r[1] ~= '' and r[1] ~= pw then return {'E', 'Incorrect password'} end
      local cap = tonumber(r[2]) or -1
      if cap >= 0 and redis.call('ZCARD', mkey) >= cap then return {'E', 'Room is full'} end
    end
    -- Decided: from here on only writes (and reads of what they wrote).
    if create then
      create_room(zone, name, pw, ARGV[7], ARGV[8], ARGV[9], ARGV[10], '0')
      redis.call('HSET', rkey, 'creator', sid)
    end
    if changed then
      add_zone_user(s[1], -1)
      add_zone_user(zone, 1)
    end
    if left ~= '' then leave_room(sid, left, s[3]) end
    redis.call('HSET', skey, 'zone', zone, 'room', ref)
    local order = redis.call('INCR', K_SEQ)
    redis.call('ZADD', mkey, order, sid)
    local f = room_fields(zone, name)
    zone_event(create and 'C' or 'U', zone, f)
    local inc, seq = room_event(ref, 'J' .. sid .. SEP .. s[3])
    local out = {'OK', create and '1' or '0', left, zone_users(zone)}
    for _, v in ipairs(f) do out[#out + 1] = v end
    out[#out + 1] = order
    out[#out + 1] = redis.call('ZSCORE', K_zrooms(zone), name) or '0'
    out[#out + 1] = inc
    out[#out + 1] = seq
    local members = redis.call('ZRANGE', mkey, 0, -1)
    out[#out + 1] = #members
    for _, m in ipairs(members) do
      out[#out + 1] = m
      out[#out + 1] = redis.call('HGET', K_session(m), 'profile') or ''
    end
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
    local skey = K_session(sid)
    need(skey, 'hash')
    local s = redis.call('HMGET', skey, 'room', 'profile')
    if not s[1] or s[1] == '' then return 0 end
    need_room(s[1])
    leave_room(sid, s[1], s[2])
    redis.call('HSET', skey, 'room', '')
    return 1
    """#

    /// ARGV: prefix, session → 1 (released) or 0 (unknown session)
    static let logout = #"""
    return release(ARGV[2])
    """#

    /// ARGV: prefix, payload, name keys... → the 1-based positions of unknown names (and of
    /// names whose node has no subscriber: it died). Every recipient is looked up before the
    /// first message is published.
    static let sendPrivate = #"""
    -- Only reads before the first PUBLISH (a wrong type fails the script before it), so no
    -- `need` checks: this runs once per private message.
    local missing, targets = {}, {}
    for i = 3, #ARGV do
      local sid = redis.call('HGET', K_NAMES, ARGV[i])
      local node = sid and redis.call('HGET', K_session(sid), 'node')
      if node then
        targets[#targets + 1] = {node, sid, i - 2}
      else
        missing[#missing + 1] = i - 2
      end
    end
    -- A node without a subscriber is gone (its process died): its users are not found.
    for _, t in ipairs(targets) do
      if redis.call('PUBLISH', CH_node(t[1]), 'P' .. t[2] .. SEP .. ARGV[2]) == 0 then missing[#missing + 1] = t[3] end
    end
    if #targets < #ARGV - 2 then table.sort(missing) end
    return missing
    """#

    /// ARGV: prefix, action (K kick, B ban, U unban), name key, ban ms (-1: until unbanned),
    /// ban the address too (0/1), notice → 1 (done) or 0 (kick: nobody online has the name;
    /// unban: the name is not banned). A ban is `ban:<name key>` holding the address banned
    /// with it (or ''), and `addrban:<address>` holding the name key; both with the same TTL.
    /// An online target (its node alive) gets `K<session>US<notice>` on its node's channel,
    /// after the ban is stored, so it cannot log in again before the ban holds.
    static let moderate = #"""
    local action, key, ms, withaddr, notice = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1', ARGV[6]
    if not ms or (action ~= 'K' and action ~= 'B' and action ~= 'U') then
      return redis.error_reply('ERR moderate: the action must be K, B or U and the time a number')
    end
    local bkey = K_ban(key)
    need(bkey, 'string')
    if action == 'U' then
      local addr = redis.call('GET', bkey)
      if not addr then return 0 end
      if addr ~= '' then
        need(K_addrban(addr), 'string')
        if redis.call('GET', K_addrban(addr)) == key then redis.call('DEL', K_addrban(addr)) end
      end
      redis.call('DEL', bkey)
      return 1
    end
    local sid = redis.call('HGET', K_NAMES, key)
    local node, addr
    if sid then
      local s = redis.call('HMGET', K_session(sid), 'node', 'addr')
      if node_alive(s[1]) then node, addr = s[1], s[2] end
    end
    if action == 'K' and not node then return 0 end
    if action == 'B' then
      if not (withaddr and addr and addr ~= '' and addr ~= 'unknown') then addr = '' end
      if addr ~= '' then need(K_addrban(addr), 'string') end
      if ms > 0 then redis.call('SET', bkey, addr, 'PX', ms) else redis.call('SET', bkey, addr) end
      if addr ~= '' then
        if ms > 0 then redis.call('SET', K_addrban(addr), key, 'PX', ms) else redis.call('SET', K_addrban(addr), key) end
      end
    end
    if node then
      -- A node without a subscriber is gone (its process died): the reaper removes its users.
      if redis.call('PUBLISH', CH_node(node), 'K' .. sid .. SEP .. notice) == 0 and action == 'K' then return 0 end
    end
    return 1
    """#

    /// ChangeRoomDetails. ARGV: prefix, session, moderator (0/1), field (`desc`, `cap`,
    /// `hidden`, `pw` or `upd` of the room hash), value
    /// → {'E', reason} or {'OK', zone users, 7 room fields}.
    ///
    /// The session's current room is changed when the session created it (its `creator`
    /// field) and it is updatable, or the session is a moderator's. The zone hears of it on
    /// `ch:zones`: `U` for a listed room, `D` for one that became hidden (hidden rooms are
    /// otherwise never published), `C` for one that became visible, nothing for one that
    /// stays hidden. Members stay whatever the capacity; the password is only stored.
    static let changeRoomDetails = #"""
    local sid, moderator, field, value = ARGV[2], ARGV[3] == '1', ARGV[4], ARGV[5]
    if field ~= 'desc' and field ~= 'cap' and field ~= 'hidden' and field ~= 'pw' and field ~= 'upd' then
      return redis.error_reply('ERR changeRoomDetails: the field must be desc, cap, hidden, pw or upd')
    end
    if field == 'cap' and not tonumber(value) then return redis.error_reply('ERR changeRoomDetails: the capacity must be a number') end
    local ref = redis.call('HGET', K_session(sid), 'room')
    if not ref or ref == '' then return {'E', 'Not in a room'} end
    local rkey = K_room(ref)
    need(rkey, 'hash')
    local r = redis.call('HMGET', rkey, 'creator', 'upd', 'hidden', 'inc')
    if not r[4] then return {'E', 'Not in a room'} end
    if not (moderator or (r[1] == sid and r[2] ~= '0')) then return {'E', 'Not allowed'} end
    redis.call('HSET', rkey, field, value)
    local zone, name = split2(ref)
    local f = room_fields(zone, name)
    local was, now = r[3] == '1', f[6] == '1'
    local kind = nil
    if not was and not now then kind = 'U' elseif not was and now then kind = 'D' elseif was and not now then kind = 'C' end
    if kind then
      redis.call('PUBLISH', CH_ZONES, kind .. zone .. SEP .. zone_users(zone) .. SEP .. table.concat(f, SEP, 1, 7))
    end
    local out = {'OK', zone_users(zone)}
    for _, v in ipairs(f) do out[#out + 1] = v end
    return out
    """#

    /// ARGV: prefix, address → 1 if new connections from it are banned, else 0
    static let isAddressBanned = #"""
    return redis.call('EXISTS', K_addrban(ARGV[2]))
    """#

    /// ARGV: prefix, zone → listing
    static let listing = #"""
    return listing(ARGV[2])
    """#

    /// ARGV: prefix, name key → 1 if its account logins are locked out, else 0
    static let isLockedOut = #"""
    return redis.call('EXISTS', K_pwlock(ARGV[2]))
    """#

    /// ARGV: prefix, name key, failures (< 1: lockout off), window ms, lock ms → 1 if the name
    /// is locked out (now or already), else 0. The count expires `window` after the first
    /// wrong password; reaching `failures` sets the lock for `lock` and clears the count; while
    /// locked nothing changes (PasswordLockout).
    static let recordWrongPassword = #"""
    local key, limit, window, lock = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
    if not (limit and window and lock) or window < 1 or lock < 1 then
      return redis.error_reply('ERR recordWrongPassword: failures, window and lock must be numbers, window and lock at least 1 ms')
    end
    local fkey, lkey = K_pwfails(key), K_pwlock(key)
    need(fkey, 'string', lkey, 'string')
    if limit < 1 then return 0 end
    if redis.call('EXISTS', lkey) == 1 then return 1 end
    local n = redis.call('INCR', fkey)
    if n == 1 or redis.call('PTTL', fkey) < 0 then redis.call('PEXPIRE', fkey, window) end
    if n < limit then return 0 end
    redis.call('SET', lkey, '1', 'PX', lock)
    redis.call('DEL', fkey)
    return 1
    """#

    /// ARGV: prefix, node, ttl ms → 1 if the node was not registered (new, or lost by
    /// Redis: the caller re-registers its sessions), else 0
    static let heartbeat = #"""
    need(K_NODES, 'set')
    redis.call('SET', K_alive(ARGV[2]), '1', 'PX', ARGV[3])
    return redis.call('SADD', K_NODES, ARGV[2])
    """#

    /// ARGV: prefix, this node, heartbeat TTL ms, no-subscriber grace ms → the nodes reaped.
    ///
    /// A node is dead when its heartbeat expired (frozen, partitioned, killed), or at once
    /// when its node channel has had no subscriber for the grace period (every connection
    /// of it vanished: the process died). Reapers run every half second on every node; if
    /// none ran for STALL ms, Redis (or everyone) stalled and heartbeats may have expired
    /// meanwhile: nobody is reaped until a whole TTL has passed since, so live nodes can
    /// beat again first.
    static let reapDead = #"""
    local me, ttl, grace = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
    if not (ttl and grace) then return redis.error_reply('ERR reapDead: ttl and grace must be numbers') end
    need(K_NODES, 'set', K_REAPER, 'hash')
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local last = tonumber(redis.call('HGET', K_REAPER, 'last') or '0')
    redis.call('HSET', K_REAPER, 'last', now)
    if last > 0 and now - last > 3000 then
      redis.call('HSET', K_REAPER, 'quiet', now + ttl)
      return {}
    end
    if now < tonumber(redis.call('HGET', K_REAPER, 'quiet') or '0') then return {} end
    local reaped = {}
    for _, node in ipairs(redis.call('SMEMBERS', K_NODES)) do
      if node ~= me then
        local dead = not node_alive(node)
        local field = 'nosub:' .. node
        if not dead then
          if redis.call('PUBSUB', 'NUMSUB', CH_node(node))[2] == 0 then
            local since = tonumber(redis.call('HGET', K_REAPER, field) or '')
            if not since then
              redis.call('HSET', K_REAPER, field, now)
            elseif now - since >= grace then
              dead = true
            end
          else
            redis.call('HDEL', K_REAPER, field)
          end
        end
        if dead then
          reap(node)
          redis.call('HDEL', K_REAPER, field)
          reaped[#reaped + 1] = node
        end
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
    if string.find(zone, SEP, 1, true) or string.find(name, SEP, 1, true) then
      return redis.error_reply('ERR permanent room: zone and room names cannot contain 0x1F')
    end
    local ref = zone .. SEP .. name
    local rkey = K_room(ref)
    need(rkey, 'hash', K_members(ref), 'zset', K_zrooms(zone), 'zset', K_zusers(zone), 'string', K_ROOMCOUNT, 'string', K_SEQ, 'string')
    if redis.call('EXISTS', rkey) == 1 then
      redis.call('HSET', rkey, 'perm', '1')
      return 0
    end
    create_room(zone, name, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], '1')
    zone_event(ARGV[9] == '1' and 'C' or 'U', zone, room_fields(zone, name))
    return 1
    """#

    /// ARGV: prefix, candidate, key layout → the cluster's epoch: a random value set once per
    /// Redis lifetime. A node that sees it change knows Redis lost its state (nobody saw its
    /// sessions leave); the same epoch means the node itself was reaped (everybody did).
    ///
    /// The epoch is a hash that also holds the key layout (`RedisKeys.layout`). Nodes of
    /// another layout cannot share the Redis and prefix: a node of this layout fails here
    /// when it finds another layout (or the string `epoch` of the first layout), and a node of
    /// the first layout fails on this hash (its `GET epoch` answers WRONGTYPE).
    static let epoch = #"""
    local t = redis.call('TYPE', K_EPOCH).ok
    local found = nil
    if t == 'hash' then
      found = redis.call('HGET', K_EPOCH, 'layout')
    elseif t ~= 'none' then
      found = '1 (a ' .. t .. ' epoch)'
    end
    if found and found ~= ARGV[3] then
      return redis.error_reply('ERR Chorus key layout mismatch under prefix "' .. P .. '": Redis holds layout ' .. found ..
        ', this node uses layout ' .. ARGV[3] .. '; nodes of different layouts cannot share a Redis and prefix')
    end
    redis.call('HSETNX', K_EPOCH, 'layout', ARGV[3])
    redis.call('HSETNX', K_EPOCH, 'id', ARGV[2])
    return redis.call('HGET', K_EPOCH, 'id')
    """#

    /// Puts back a live session that Redis lost (restart without persistence, or this node
    /// was taken for dead). ARGV: prefix, node, session, name key, profile, zone, room ref or
    /// '', password, hidden, updatable, capacity, description, permanent, member order, room
    /// order (both as first given, so join and creation order survive), announce (1 when
    /// the others saw the session leave: publish its join again), creator (1 when the
    /// session created its room: it may change the room's details again)
    /// → 'present', 'restored', or 'conflict' (a live session of another node has the name)
    static let restore = #"""
    local node, sid, key, profile, zone, ref = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
    local skey = K_session(sid)
    need(skey, 'hash', K_NAMES, 'hash', K_nodesessions(node), 'set', K_zusers(zone), 'string')
    local rzone, name
    if ref ~= '' then
      rzone, name = split2(ref)
      need(K_room(ref), 'hash', K_members(ref), 'zset', K_zrooms(rzone), 'zset', K_zusers(rzone), 'string',
           K_ROOMCOUNT, 'string', K_SEQ, 'string', K_hist(ref), 'list')
    end
    if redis.call('EXISTS', skey) == 1 then return 'present' end
    local owner = live_owner(key)
    if owner and owner ~= sid then return 'conflict' end
    redis.call('HSET', K_NAMES, key, sid)
    redis.call('HSET', skey, 'node', node, 'key', key, 'profile', profile, 'zone', zone, 'room', ref)
    redis.call('SADD', K_nodesessions(node), sid)
    add_zone_user(zone, 1)
    if ref ~= '' then
      local rkey = K_room(ref)
      local fresh = redis.call('EXISTS', rkey) == 0
      local announce = ARGV[16] == '1'
      if fresh then create_room(rzone, name, ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[15]) end
      if ARGV[17] == '1' then redis.call('HSET', rkey, 'creator', sid) end
      redis.call('ZADD', K_members(ref), next_seq(ARGV[14]), sid)
      zone_event((fresh and announce) and 'C' or 'U', rzone, room_fields(rzone, name))
      if announce then room_event(ref, 'J' .. sid .. SEP .. profile) end
    end
    return 'restored'
    """#

    /// Public messages of one room, as many as a node gathered in one loop turn. ARGV:
    /// prefix, room ref, publish time (the node's wall clock in microseconds, when the first
    /// of them reached the bus), then (session, encoded frame) pairs → one 1 or 0 per message: 1
    /// when published (as the room's next event), 0 when its session is not in that room
    /// in Redis (it left, or its node was reaped: a message must never come from someone
    /// its members no longer list). Frames pass byte for byte.
    ///
    /// The accepted messages take consecutive numbers, go into the history one entry each
    /// (as `room_event` would write them), and travel as ONE pub/sub message:
    /// `T<inc>:<first number>:<count>:<publish time> US` then `<length>:<frame>` per message.
    /// One PUBLISH per batch instead of one per message is what keeps Redis off the critical
    /// path. The publish time lets receiving nodes measure the publish-to-delivery lag.
    static let publish = #"""
    local ref = ARGV[2]
    local rkey, hkey = K_room(ref), K_hist(ref)
    need(hkey, 'list')
    local verdicts, frames = {}, {}
    for i = 4, #ARGV - 1, 2 do
      if redis.call('HGET', K_session(ARGV[i]), 'room') == ref then
        verdicts[#verdicts + 1] = 1
        frames[#frames + 1] = ARGV[i + 1]
      else
        verdicts[#verdicts + 1] = 0
      end
    end
    local n = #frames
    if n == 0 then return verdicts end
    local inc = redis.call('HGET', rkey, 'inc') or '0'
    local last = redis.call('HINCRBY', rkey, 'seq', n)
    local first = last - n + 1
    local entries, parts = {}, {}
    for k = 1, n do
      entries[k] = 'S' .. inc .. ':' .. (first + k - 1) .. SEP .. 'M' .. frames[k]
      parts[k] = #frames[k] .. ':' .. frames[k]
    end
    for k = 1, n, 1000 do
      redis.call('RPUSH', hkey, unpack(entries, k, math.min(n, k + 999)))
    end
    redis.call('LTRIM', hkey, -HIST_MAX, -1)
    redis.call('PEXPIRE', hkey, HIST_MS)
    redis.call('PUBLISH', CH_room(ref), 'T' .. inc .. ':' .. first .. ':' .. n .. ':' .. ARGV[3] .. SEP .. table.concat(parts))
    return verdicts
    """#

    /// A node catching up on a room. ARGV: prefix, room ref, incarnation the node knows,
    /// first number wanted, members wanted (1/0)
    /// → {'G'} when the room is gone, else {incarnation, resume after, lost, event count,
    ///    payloads..., [member count, (session, profile)...]}.
    ///
    /// Events come from the room's history from the number wanted on (from 1 when the room
    /// is another incarnation now); where the history no longer holds them, from its oldest
    /// (`lost` says how many were skipped). The members are those just before the first
    /// event returned: the members now, with the returned joins and leaves undone. They come
    /// when asked for, when events were lost, or when the incarnation changed.
    static let fetch = #"""
    local ref, inc, from, want = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1'
    if not from then return redis.error_reply('ERR fetch: the first number must be a number') end
    local r = redis.call('HMGET', K_room(ref), 'inc', 'seq')
    if not r[1] then return {'G'} end
    local cur = tonumber(r[2] or '0')
    if r[1] ~= inc then
      from = 1
      want = true
    end
    local h = K_hist(ref)
    local oldest = cur - redis.call('LLEN', h) + 1
    local start, lost = from, 0
    if start < oldest then
      if r[1] == inc then lost = oldest - start end
      start = oldest
      want = true
    end
    local items = {}
    if start <= cur then items = redis.call('LRANGE', h, start - oldest, -1) end
    local out = {r[1], start - 1, lost, #items}
    for _, p in ipairs(items) do out[#out + 1] = p end
    if want then
      local order, profiles, listed = {}, {}, {}
      for _, m in ipairs(redis.call('ZRANGE', K_members(ref), 0, -1)) do
        order[#order + 1] = m
        listed[m] = true
        profiles[m] = redis.call('HGET', K_session(m), 'profile') or ''
      end
      -- undo the returned joins and leaves, newest first
      for i = #items, 1, -1 do
        local body = string.sub(items[i], (string.find(items[i], SEP, 1, true) or 0) + 1)
        local kind = string.sub(body, 1, 1)
        if kind == 'J' or kind == 'L' then
          local sid, profile = split2(string.sub(body, 2))
          if kind == 'J' then
            profiles[sid] = nil
          else
            profiles[sid] = profile
            if not listed[sid] then
              order[#order + 1] = sid
              listed[sid] = true
            end
          end
        end
      end
      local members = {}
      for _, m in ipairs(order) do
        if profiles[m] then members[#members + 1] = m end
      end
      out[#out + 1] = #members
      for _, m in ipairs(members) do
        out[#out + 1] = m
        out[#out + 1] = profiles[m]
      end
    end
    return out
    """#
}
