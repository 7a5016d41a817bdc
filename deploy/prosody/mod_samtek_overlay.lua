-- mod_samtek_overlay: lets a trusted XMPP component (SAMTEK) overlay the presence that a
-- user's CONTACTS see ("dnd / I møte til 11:00") while the user's own devices keep their
-- real presence.  Load it on a VirtualHost; see README.md next to this file.
--
-- Why a module: a component cannot send presence from a user's address, and Prosody 0.12 has
-- no stock way to alter what contacts see.  We filter outgoing presence instead.
--
-- State is in memory only: after a Prosody restart SAMTEK re-sends its overlays (and its
-- schedules of upcoming ones).

local st = require "util.stanza";
local jid = require "util.jid";
local datetime = require "util.datetime";
local now = require "util.time".now;
local usermanager = require "core.usermanager";

local xmlns = "urn:samtek:presence-overlay:0";
local host = module.host;
local trusted = module:get_option_set("samtek_overlay_trusted", {});
local bare_sessions = prosody.bare_sessions;
local core_post_stanza = prosody.core_post_stanza;
-- Refusals are logged rate-limited: any account can send thousands of them.
local samtek_log = module:require "samtek_log";
local log_refused = samtek_log.limiter("warn", "refused overlay requests");
local log_dismissed = samtek_log.limiter("info", "dismissals");

-- "available" = no <show/> at all, with the overlay status (e.g. "working elsewhere").
local valid_show = { available = true, away = true, xa = true, dnd = true, chat = true };
local MAX_TRANSITION, MAX_STATUS = 256, 1024; -- characters
-- Rooms per session that get her presence again when the overlay changes: bounds the
-- stanzas one set/clear/expiry sends (resources x (contacts + rooms)).
local MAX_ROOMS = module:get_option_number("samtek_overlay_max_rooms", 100);
local xmlns_muc = "http://jabber.org/protocol/muc";

-- Length in characters (the XML parser guarantees valid UTF-8); bytes on Lua 5.1.
local function length(s) return utf8 and utf8.len(s) or #s; end

-- bare JID -> { show, status, transition, until (epoch s), dismissed (bool) }.
-- One record per user: an active overlay, or (dismissed = true) the memory that the user
-- dropped this transition by hand, so that a SAMTEK re-send of it is refused until `until`.
local state = {};

-- Clones we post ourselves; the filter must let them through (recursion guard).
local ours = setmetatable({}, { __mode = "k" });

local function active(bare)
	local rec = state[bare];
	if rec and not rec.dismissed then return rec; end
end

-- Copy of `stanza` with <show>/<status> replaced; every other child is kept.  We never
-- mutate `stanza` itself: mod_presence reuses it for every recipient and keeps it as
-- session.presence (what the user's own resources and later probes see).
local function overlaid(stanza, rec)
	local copy = st.clone(stanza);
	copy:maptags(function(tag)
		local ns = tag.attr.xmlns;
		if (tag.name == "show" or tag.name == "status") and (ns == nil or ns == "jabber:client") then
			return nil;
		end
		return tag;
	end);
	if rec.show ~= "available" then copy:add_direct_child(st.stanza("show"):text(rec.show)); end
	if rec.status then copy:add_direct_child(st.stanza("status"):text(rec.status)); end
	return copy;
end

-- session -> { rooms = { [room bare JID] = occupant JID }, n = count }: the MUC rooms the
-- session is in.  Only these and contacts see the overlay; a one-off directed-presence target
-- (a stranger) gets exactly what her client sent and is never sent anything again by us.
local joined = setmetatable({}, { __mode = "k" });

local function is_local_muc(h)
	local host_session = prosody.hosts[h];
	return host_session ~= nil and host_session.modules ~= nil and host_session.modules.muc ~= nil;
end

-- Is `to` an occupant JID of a room the session is in (or joining now)?  Remembers it.
local function room_target(origin, stanza, to)
	local room, nick = jid.bare(to), jid.resource(to);
	if not nick then return false; end -- presence to a room goes to room/nick
	local known = joined[origin];
	if known and known.rooms[room] then
		known.rooms[room] = to; -- a nick change: later updates go to the new nick
		return true;
	end
	-- A join carries <x xmlns='…muc'/> (XEP-0045 §7.2.1); a local MUC service is a room anyway
	-- (e.g. after a module reload forgot the join).
	if not stanza:get_child("x", xmlns_muc) and not is_local_muc(jid.host(room)) then
		return false;
	end
	known = known or { rooms = {}, n = 0 };
	joined[origin] = known;
	if known.n < MAX_ROOMS then
		known.rooms[room] = to;
		known.n = known.n + 1;
	end
	return true;
end

local function forget_room(origin, to)
	local known = joined[origin];
	if not known then return; end
	if not to then joined[origin] = nil; return; end -- broadcast unavailable: left every room
	local room = jid.bare(to);
	if known.rooms[room] == to then
		known.rooms[room] = nil;
		known.n = known.n - 1;
	end
end

local function is_contact(origin, bare_to)
	local item = origin.roster and origin.roster[bare_to];
	return item ~= nil and (item.subscription == "both" or item.subscription == "from");
end

local function build_copy(presence, rec)
	local p = rec and overlaid(presence, rec) or st.clone(presence);
	if rec then ours[p] = true; end
	return p;
end

-- session -> { presence, show, status, copy }: a copy built a few seconds before a boundary
-- (see prepare below), so that the boundary pass only routes stanzas.  Valid while
-- session.presence is still the same object (mod_presence stores a new stanza on every
-- change, it never edits the stored one) and the overlay values are the same.
local prepared = setmetatable({}, { __mode = "k" });

-- One copy per resource, re-addressed for each recipient as mod_presence does with its own
-- broadcast.  With an active overlay it is overlaid here and marked ours, so that it passes
-- our filter once instead of being cloned and posted a second time per recipient.
local function copy_for(session, rec)
	local ready = prepared[session];
	if ready then
		prepared[session] = nil; -- used once: contacts' deliveries re-address it
		local show, status = rec and rec.show, rec and rec.status;
		if ready.presence == session.presence and ready.show == show and ready.status == status then
			return ready.copy;
		end
	end
	return build_copy(session.presence, rec);
end

local function resend(session, p, to)
	p.attr.to = to;
	core_post_stanza(session, p, true);
end

-- Send the stored presence of each available resource (except `except`) to every contact
-- subscribed to the user, and to the MUC rooms it is in (which would otherwise keep a stale
-- overlay after the meeting), never to other directed-presence targets: overlaid when an
-- overlay is active, real otherwise (set, clear and expiry alike).
local function rebroadcast(bare, except)
	local user = bare_sessions[bare];
	if not user then return; end -- no client online: contacts see "offline" anyway
	local rec = active(bare);
	for _, session in pairs(user.sessions) do
		if session ~= except and session.presence then
			local p = copy_for(session, rec);
			for contact, item in pairs(user.roster or {}) do
				if type(contact) == "string" and (item.subscription == "both" or item.subscription == "from") then
					resend(session, p, contact);
				end
			end
			local known = joined[session];
			for room, target in pairs(known and known.rooms or {}) do
				if session.directed and session.directed[target] then
					resend(session, copy_for(session, rec), target); -- a MUC keeps the stanza it got
				else -- Prosody forgot it (she left the room): so do we
					known.rooms[room] = nil;
					known.n = known.n - 1;
				end
			end
		end
	end
end

-- Scheduled overlays ----------------------------------------------------------------------
-- bare JID -> array of entries { show, status, transition, from, until }, sorted by `from`.
-- Each entry becomes the active overlay at `from` by the server's own timer, so a boundary
-- needs nothing from SAMTEK (which may be busy, restarting or dead at that instant).
local pending = {};
local MAX_SCHEDULED = module:get_option_number("samtek_overlay_max_scheduled", 16); -- per user
local MAX_HORIZON = module:get_option_number("samtek_overlay_max_horizon", 24 * 3600); -- seconds
local MAX_BATCH = module:get_option_number("samtek_overlay_max_batch", 500); -- items per IQ
-- Seconds before a boundary at which the stanza copies it will send are built.
local PREPARE_LEAD = 5;

-- A timer that runs fn(t) at the absolute instant `when`, t >= when; timers may fire a
-- little early.
local function at(when, fn)
	return module:add_timer(math.max(when - now(), 0), function()
		local t = now();
		if when - t > 0.001 then return when - t; end
		fn(math.max(t, when));
	end);
end

-- Instants: one timer per distinct instant, not one per entry and record.  At 09:00
-- thousands of users are due in the same second; the pass then walks one table.
-- instant (epoch s) -> { timer, prepare (timer), ready (bool), users = { [bare] = count } }:
-- count = records and entries of that user due then (an end and a start can coincide).
local instants = {};
local advance, prepare;

local function wake(when, bare)
	local slot = instants[when];
	if not slot then
		slot = { users = {} };
		instants[when] = slot;
		slot.timer = at(when, function(t)
			if slot.prepare then slot.prepare:stop(); end
			instants[when] = nil; -- what advance() consumes now is not looked up here again
			for user in pairs(slot.users) do advance(user, t); end
		end);
		slot.prepare = module:add_timer(math.max(when - PREPARE_LEAD - now(), 0), function()
			slot.prepare, slot.ready = nil, true;
			for user in pairs(slot.users) do prepare(user, when); end
		end);
	end
	slot.users[bare] = (slot.users[bare] or 0) + 1;
	return slot;
end

local function unwake(when, bare)
	local slot = instants[when];
	local count = slot and slot.users[bare];
	if not count then return; end -- already fired
	if count > 1 then slot.users[bare] = count - 1; return; end
	slot.users[bare] = nil;
	if next(slot.users) == nil then
		slot.timer:stop();
		if slot.prepare then slot.prepare:stop(); end
		instants[when] = nil;
	end
end

local function drop(bare, rec)
	unwake(rec["until"], bare);
	if state[bare] == rec then state[bare] = nil; end
end

-- Make `entry` the active overlay (its values and `until`); returns whether contacts must
-- get the presence again (not when only `until` changes, e.g. a late set re-scheduled).
local function install(bare, entry)
	local old = state[bare];
	local same = old and not old.dismissed and old.transition == entry.transition
		and old.show == entry.show and old.status == entry.status;
	if old then drop(bare, old); end
	local rec = { show = entry.show, status = entry.status, transition = entry.transition,
		["until"] = entry["until"] };
	state[bare] = rec;
	wake(rec["until"], bare); -- expiry by the server itself: a dead SAMTEK leaves no stale overlay
	return not same;
end

-- Build, ahead of instant `when`, the copies that advance() will send then for each of the
-- user's available resources (what contacts will see after it: the entry due then, the
-- active overlay, or the real presence); copy_for() uses them if nothing changed meanwhile.
prepare = function(bare, when)
	local user = bare_sessions[bare];
	if not user then return; end
	local due;
	for _, entry in ipairs(pending[bare] or {}) do
		if entry.from > when then break; end
		if entry["until"] > when then due = entry; end
	end
	local rec = state[bare];
	if rec and rec["until"] <= when then rec = nil; end -- expired by then
	if due and not (rec and rec.dismissed and rec.transition == due.transition) then rec = due; end
	if rec and rec.dismissed then rec = nil; end
	for _, session in pairs(user.sessions) do
		if session.presence then
			prepared[session] = { presence = session.presence, show = rec and rec.show,
				status = rec and rec.status, copy = build_copy(session.presence, rec) };
		end
	end
end

-- Bring `bare` to what is due at t (default now): expire the active record at its `until`,
-- and apply the latest scheduled entry whose `from` has come (unless she dismissed that
-- very transition).  One re-broadcast at most, also when an expiry and the next start
-- fall on the same instant.
advance = function(bare, t)
	t = t or now();
	local list, due = pending[bare], nil;
	while list and list[1] and list[1].from <= t do
		local entry = table.remove(list, 1);
		unwake(entry.from, bare);
		if entry["until"] > t then due = entry; end
	end
	if list and #list == 0 then pending[bare] = nil; end
	local rec, changed = state[bare], false;
	if rec and rec["until"] <= t then
		drop(bare, rec);
		changed = not rec.dismissed;
		rec = nil;
	end
	if due then
		if rec and rec.dismissed and rec.transition == due.transition then
			log_dismissed(bare, "scheduled overlay %s of %s not applied: dismissed by hand", due.transition, bare);
		else
			changed = install(bare, due) or changed;
		end
	end
	if changed then rebroadcast(bare); end
end

local function cancel_pending(bare)
	for _, entry in ipairs(pending[bare] or {}) do unwake(entry.from, bare); end
	pending[bare] = nil;
end

local function add_pending(bare, entry)
	local list = pending[bare] or {};
	pending[bare] = list;
	local i = #list + 1;
	while i > 1 and list[i - 1].from > entry.from do i = i - 1; end
	table.insert(list, i, entry);
	if wake(entry.from, bare).ready then prepare(bare, entry.from); end -- after its prepare pass
end

-- Tell every trusted component that the user overrode the overlay by hand.
local function notify_dismissed(bare, rec, stanza)
	for component in trusted do
		local msg = st.message({ from = host, to = component })
			:tag("dismissed", { xmlns = xmlns, jid = bare, transition = rec.transition,
				show = stanza:get_child_text("show") or "available" });
		local status = stanza:get_child_text("status");
		if status then msg:text_tag("status", status); end
		module:send(msg);
	end
end

-- A broadcast presence (no 'to') from a client: a real change of show/status while an
-- overlay is active means the user overrides it.  A resource's initial presence does not
-- (origin.presence is nil then), nor does re-sending the same show/status.
local function check_manual_change(origin, stanza, bare)
	local rec, prev = active(bare), origin.presence;
	if not rec or not prev then return; end
	if prev:get_child_text("show") == stanza:get_child_text("show")
		and prev:get_child_text("status") == stanza:get_child_text("status") then
		return;
	end
	rec.dismissed = true; -- keep the record (and its expiry) as the dismissal memory
	log_dismissed(bare, "%s dismissed overlay %s by hand", bare, rec.transition);
	notify_dismissed(bare, rec, stanza);
	-- This resource's new presence now flows unmodified through mod_presence; the other
	-- resources must re-send their real presence, contacts still see them overlaid.
	rebroadcast(bare, origin);
end

-- Outgoing presence filter, runs before mod_presence (priority 0).
local function filter(event)
	local origin, stanza = event.origin, event.stanza;
	if ours[stanza] then return; end
	if origin.type ~= "c2s" or origin.host ~= host or not origin.username then return; end
	local to, kind = stanza.attr.to, stanza.attr.type;
	if kind ~= nil then -- only available presence is overlaid
		if kind == "unavailable" or kind == "error" then forget_room(origin, to); end
		return;
	end
	local bare = origin.username .. "@" .. host;
	if not to then return check_manual_change(origin, stanza, bare); end
	local bare_to = jid.bare(to);
	if bare_to == bare then return; end -- own resources see the real presence
	-- Contacts and rooms see the overlay; anyone else gets what she sent (room_target first:
	-- it also remembers the room for later re-sends).
	if not room_target(origin, stanza, to) and not is_contact(origin, bare_to) then return; end
	local rec = active(bare);
	if not rec then return; end
	local copy = overlaid(stanza, rec);
	ours[copy] = true;
	core_post_stanza(origin, copy, true); -- full pre-processing (blocklist, directed presence…)
	return true; -- the original is not delivered
end
module:hook("pre-presence/bare", filter, 100);
module:hook("pre-presence/full", filter, 100);

-- IQ API for the trusted component -------------------------------------------------------

local function authorised(event)
	if trusted:contains(jid.bare(event.stanza.attr.from)) then return true; end
	log_refused(jid.bare(event.stanza.attr.from), "overlay request from untrusted %s refused", event.stanza.attr.from);
	event.origin.send(st.error_reply(event.stanza, "auth", "forbidden", "Not a trusted overlay controller"));
end

local function bad(event, text)
	event.origin.send(st.error_reply(event.stanza, "modify", "bad-request", text));
	return true;
end

-- Returns the bare JID of a local user, or nil and an error condition.
local function local_user(s)
	if type(s) ~= "string" then return nil, "bad-request", "missing jid"; end
	local node, h, resource = jid.prepped_split(s);
	if not node or h ~= host or resource then return nil, "bad-request", "jid must be a bare JID of " .. host; end
	local bare = node .. "@" .. host;
	-- An online user exists; only offline ones cost a storage read.
	if not bare_sessions[bare] and not usermanager.user_exists(node, host) then
		return nil, "item-not-found", "no such user";
	end
	return bare;
end

-- Timestamps: ISO-8601 (util.datetime), plus the fraction of a second it ignores, so a
-- scheduled start can be exact to the millisecond.
local function parse_time(s)
	if type(s) ~= "string" then return nil; end
	local t = datetime.parse(s);
	if not t then return nil; end
	local frac = s:match("^%d%d%d%d%-?%d%d%-?%d%dT%d%d:%d%d:%d%d(%.%d+)");
	return frac and t + (tonumber("0" .. frac) or 0) or t;
end

local function iso(t)
	local whole = math.floor(t);
	local ms = math.floor((t - whole) * 1000 + 0.5);
	if ms == 0 then return datetime.datetime(whole); end
	if ms == 1000 then return datetime.datetime(whole + 1); end
	return (datetime.datetime(whole):gsub("Z$", string.format(".%03dZ", ms)));
end

-- Reads show/status/transition/from/until of a <set/> or schedule <entry/>.
-- Returns the entry, or nil, condition, text.
local function read_entry(req, t)
	local show, transition = req.attr.show, req.attr.transition;
	if not valid_show[show] then return nil, "bad-request", "show must be available, away, xa, dnd or chat"; end
	if not transition or #transition == 0 or length(transition) > MAX_TRANSITION then
		return nil, "bad-request", "transition must be 1.." .. MAX_TRANSITION .. " characters";
	end
	local until_ts = parse_time(req.attr["until"]);
	if not until_ts then return nil, "bad-request", "until must be an ISO-8601 UTC timestamp"; end
	if until_ts <= t then return nil, "bad-request", "until is in the past"; end
	local from_ts;
	if req.attr.from ~= nil then
		from_ts = parse_time(req.attr.from);
		if not from_ts then return nil, "bad-request", "from must be an ISO-8601 UTC timestamp"; end
		if from_ts >= until_ts then return nil, "bad-request", "from must be before until"; end
		if from_ts > t + MAX_HORIZON then
			return nil, "policy-violation", "from is more than " .. MAX_HORIZON .. " s ahead";
		end
	end
	local status = req:get_child_text("status");
	if status and length(status) > MAX_STATUS then return nil, "bad-request", "status too long"; end
	return { show = show, status = status, transition = transition, from = from_ts, ["until"] = until_ts };
end

-- Each operation returns "ok", "dismissed", or nil, condition, text.
local function do_set(req)
	local bare, cond, text = local_user(req.attr.jid);
	if not bare then return nil, cond, text; end
	local t = now();
	local entry;
	entry, cond, text = read_entry(req, t);
	if not entry then return nil, cond, text; end
	if entry.from and entry.from > t then
		-- Scheduled: replaces a pending entry of the same transition, else adds one.
		local list = pending[bare] or {};
		for i, other in ipairs(list) do
			if other.transition == entry.transition then
				unwake(other.from, bare);
				table.remove(list, i);
				break;
			end
		end
		if #list >= MAX_SCHEDULED then
			return nil, "policy-violation", "at most " .. MAX_SCHEDULED .. " scheduled overlays per user";
		end
		add_pending(bare, entry);
		return "ok";
	end
	local old = state[bare];
	if old and old.dismissed and old.transition == entry.transition then
		return "dismissed"; -- the user already overrode this very transition: her choice wins
	end
	if old and not old.dismissed and old.transition == entry.transition and old.show == entry.show
		and old.status == entry.status and old["until"] == entry["until"] then
		return "ok"; -- same overlay again (SAMTEK re-asserting): contacts already see it
	end
	if install(bare, entry) then rebroadcast(bare); end
	return "ok";
end

local function do_clear(req)
	local bare, cond, text = local_user(req.attr.jid);
	if not bare then return nil, cond, text; end
	local rec = active(bare);
	-- A dismissal memory is kept: a later re-send of that transition stays refused.
	if rec then drop(bare, rec); rebroadcast(bare); end
	return "ok";
end

-- <schedule jid><entry show transition from until><status/></entry>...</schedule>: replaces
-- all of the user's pending entries (none cancels them).  All or nothing.
local function do_schedule(req)
	local bare, cond, text = local_user(req.attr.jid);
	if not bare then return nil, cond, text; end
	local t, entries = now(), {};
	for child in req:childtags("entry", xmlns) do
		if #entries >= MAX_SCHEDULED then
			return nil, "policy-violation", "at most " .. MAX_SCHEDULED .. " scheduled overlays per user";
		end
		local entry;
		entry, cond, text = read_entry(child, t);
		if not entry then return nil, cond, text; end
		if not entry.from then return nil, "bad-request", "a schedule entry needs from"; end
		entries[#entries + 1] = entry;
	end
	cancel_pending(bare);
	for _, entry in ipairs(entries) do add_pending(bare, entry); end
	advance(bare); -- an entry whose `from` has just passed applies now
	return "ok";
end

local operations = { set = do_set, clear = do_clear, schedule = do_schedule };

local function answer(event, ok, cond, text)
	if not ok then
		event.origin.send(st.error_reply(event.stanza, "modify", cond, text));
	elseif ok == "dismissed" then
		event.origin.send(st.reply(event.stanza):tag("dismissed", { xmlns = xmlns }));
	else
		event.origin.send(st.reply(event.stanza));
	end
	return true;
end

for name, operation in pairs(operations) do
	module:hook("iq-set/host/" .. xmlns .. ":" .. name, function(event)
		if not authorised(event) then return true; end
		return answer(event, operation(event.stanza.tags[1]));
	end);
end

-- <batch> of set/clear/schedule items, applied in order; the result has one child per item,
-- in the same order: <ok/>, <dismissed/> or <refused condition="…">text</refused>.
module:hook("iq-set/host/" .. xmlns .. ":batch", function(event)
	if not authorised(event) then return true; end
	local items = {};
	for child in event.stanza.tags[1]:childtags(nil, xmlns) do items[#items + 1] = child; end
	if #items > MAX_BATCH then return bad(event, "at most " .. MAX_BATCH .. " items per batch"); end
	local reply = st.reply(event.stanza):tag("batch", { xmlns = xmlns });
	for _, item in ipairs(items) do
		local operation = operations[item.name];
		local ok, cond, text;
		if operation then
			ok, cond, text = operation(item);
		else
			cond, text = "bad-request", "unknown batch item " .. item.name;
		end
		if ok then
			reply:tag(ok):up();
		else
			reply:tag("refused", { condition = cond }):text(text or ""):up();
		end
	end
	event.origin.send(reply);
	return true;
end);

-- A page of `list` ends with the user whose items (overlay or dismissal, and scheduled
-- entries) reach this many, so one answer stays bounded (about 2 MB) however many users are
-- overlaid; the client asks again `after` the page's last user.  Few pages: each one sorts.
local MAX_LIST = module:get_option_number("samtek_overlay_max_list", 10000);

local function list_user(reply, bare)
	local rec = state[bare];
	if rec then
		local attrs = { jid = bare, transition = rec.transition, ["until"] = iso(rec["until"]) };
		if rec.dismissed then
			reply:tag("dismissed", attrs):up();
		else
			attrs.show = rec.show;
			reply:tag("overlay", attrs);
			if rec.status then reply:text_tag("status", rec.status); end
			reply:up();
		end
	end
	for _, entry in ipairs(pending[bare] or {}) do
		reply:tag("scheduled", { jid = bare, show = entry.show, transition = entry.transition,
			from = iso(entry.from), ["until"] = iso(entry["until"]) });
		if entry.status then reply:text_tag("status", entry.status); end
		reply:up();
	end
end

-- <list max='N' after='jid'/>: the users after `after` in JID order, up to the one whose
-- items reach N (capped by MAX_LIST); `last` on the answer names the page's last user when
-- more follow.  Without `max` (a client that predates pages) everything is in one answer.
module:hook("iq-get/host/" .. xmlns .. ":list", function(event)
	if not authorised(event) then return true; end
	local request = event.stanza.tags[1];
	local max, after = tonumber(request.attr.max), request.attr.after;
	local users, listed = {}, {};
	for _, map in ipairs({ state, pending }) do
		for bare in pairs(map) do
			if not listed[bare] and (after == nil or bare > after) then
				listed[bare] = true;
				users[#users + 1] = bare;
			end
		end
	end
	local count, last = #users, nil;
	if max then
		max = math.max(1, math.min(math.floor(max), MAX_LIST));
		table.sort(users);
		local items = 0;
		for i = 1, count - 1 do
			items = items + (state[users[i]] and 1 or 0) + #(pending[users[i]] or {});
			if items >= max then count, last = i, users[i]; break; end
		end
	end
	local reply = st.reply(event.stanza):tag("list", { xmlns = xmlns, last = last });
	for i = 1, count do list_user(reply, users[i]); end
	event.origin.send(reply);
	return true;
end);
