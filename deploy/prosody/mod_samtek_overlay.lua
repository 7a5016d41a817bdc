-- mod_samtek_overlay: lets a trusted XMPP component (SAMTEK) overlay the presence that a
-- user's CONTACTS see ("dnd / I møte til 11:00") while the user's own devices keep their
-- real presence.  Load it on a VirtualHost; see README.md next to this file.
--
-- Why a module: a component cannot send presence from a user's address, and Prosody 0.12 has
-- no stock way to alter what contacts see.  We filter outgoing presence instead.
--
-- State is in memory only: after a Prosody restart SAMTEK re-sends its overlays.

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

-- bare JID -> { show, status, transition, until (epoch s), timer, dismissed (bool) }.
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

local function resend(session, to)
	local p = st.clone(session.presence);
	p.attr.to = to;
	core_post_stanza(session, p, true);
end

-- Send the stored presence of each available resource (except `except`) to every contact
-- subscribed to the user, and to the MUC rooms it is in (which would otherwise keep a stale
-- overlay after the meeting), never to other directed-presence targets.  It passes through
-- our filter, which applies the overlay if one is active: set, clear and expiry alike.
local function rebroadcast(bare, except)
	local user = bare_sessions[bare];
	if not user then return; end -- no client online: contacts see "offline" anyway
	for _, session in pairs(user.sessions) do
		if session ~= except and session.presence then
			for contact, item in pairs(user.roster or {}) do
				if type(contact) == "string" and (item.subscription == "both" or item.subscription == "from") then
					resend(session, contact);
				end
			end
			local known = joined[session];
			for room, target in pairs(known and known.rooms or {}) do
				if session.directed and session.directed[target] then
					resend(session, target);
				else -- Prosody forgot it (she left the room): so do we
					known.rooms[room] = nil;
					known.n = known.n - 1;
				end
			end
		end
	end
end

local function drop(bare, rec)
	if rec.timer then rec.timer:stop(); end
	if state[bare] == rec then state[bare] = nil; end
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
	rec.dismissed = true; -- keep the record (and its timer) as the dismissal memory
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

module:hook("iq-set/host/" .. xmlns .. ":set", function(event)
	if not authorised(event) then return true; end
	local stanza = event.stanza;
	local req = stanza.tags[1];
	local bare, cond, text = local_user(req.attr.jid);
	if not bare then event.origin.send(st.error_reply(stanza, "modify", cond, text)); return true; end
	local show, transition = req.attr.show, req.attr.transition;
	if not valid_show[show] then return bad(event, "show must be available, away, xa, dnd or chat"); end
	if not transition or #transition == 0 or length(transition) > MAX_TRANSITION then
		return bad(event, "transition must be 1.." .. MAX_TRANSITION .. " characters");
	end
	local until_ts = datetime.parse(req.attr["until"]);
	if not until_ts then return bad(event, "until must be an ISO-8601 UTC timestamp"); end
	if until_ts <= now() then return bad(event, "until is in the past"); end
	local status = req:get_child_text("status");
	if status and length(status) > MAX_STATUS then return bad(event, "status too long"); end

	local old = state[bare];
	if old and old.dismissed and old.transition == transition then
		-- The user already overrode this very transition: their choice wins.
		event.origin.send(st.reply(stanza):tag("dismissed", { xmlns = xmlns }));
		return true;
	end
	if old and not old.dismissed and old.transition == transition and old.show == show
		and old.status == status and old["until"] == until_ts then
		-- Same overlay again (SAMTEK re-asserting after its restart): contacts already see it.
		event.origin.send(st.reply(stanza));
		return true;
	end
	if old then drop(bare, old); end -- replaces the overlay and any dismissal memory
	local rec = { show = show, status = status, transition = transition, ["until"] = until_ts };
	rec.timer = module:add_timer(until_ts - now(), function()
		-- Expiry by the server itself: a crashed SAMTEK never leaves a stale overlay.
		local was_active = not rec.dismissed;
		rec.timer = nil;
		drop(bare, rec);
		if was_active then rebroadcast(bare); end
	end);
	state[bare] = rec;
	rebroadcast(bare);
	event.origin.send(st.reply(stanza));
	return true;
end);

module:hook("iq-set/host/" .. xmlns .. ":clear", function(event)
	if not authorised(event) then return true; end
	local bare, cond, text = local_user(event.stanza.tags[1].attr.jid);
	if not bare then event.origin.send(st.error_reply(event.stanza, "modify", cond, text)); return true; end
	local rec = active(bare);
	-- A dismissal memory is kept: a later re-send of that transition stays refused.
	if rec then drop(bare, rec); rebroadcast(bare); end
	event.origin.send(st.reply(event.stanza));
	return true;
end);

module:hook("iq-get/host/" .. xmlns .. ":list", function(event)
	if not authorised(event) then return true; end
	local reply = st.reply(event.stanza):tag("list", { xmlns = xmlns });
	for bare, rec in pairs(state) do
		local attrs = { jid = bare, transition = rec.transition, ["until"] = datetime.datetime(rec["until"]) };
		if rec.dismissed then
			reply:tag("dismissed", attrs):up();
		else
			attrs.show = rec.show;
			reply:tag("overlay", attrs);
			if rec.status then reply:text_tag("status", rec.status); end
			reply:up();
		end
	end
	event.origin.send(reply);
	return true;
end);
