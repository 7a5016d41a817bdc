-- mod_samtek_deliver: at-least-once delivery of SAMTEK's chat messages, shown once.
--
-- Why: XEP-0114 component streams have no stream management.  A message written into a
-- stream that dies a moment later is lost without a trace (a missed-call note, a meeting
-- reminder, an assistant answer).  With this module SAMTEK wraps each message in an IQ:
--
--   <iq type="set" to="region.test"><deliver xmlns="urn:samtek:deliver:0" id="…">
--     <message xmlns="jabber:client" to="kari@region.test" type="chat"><body>…</body></message>
--   </deliver></iq>
--
-- and the module answers only after it has routed the message (to the user's sessions, to
-- offline storage, or to a room).  SAMTEK re-sends until it has the answer, with the same id;
-- the module remembers ids (per component, bounded in count and time) and drops repeats, so
-- the user sees each message once.  Load it on the users' VirtualHost; see README.md.
--
-- A groupchat message to a room on a local MUC service (a meeting reminder in a project
-- room) is posted by the room itself under the nick given in <deliver nick="…"/>, archived
-- and kept in history like any message; SAMTEK need not enter and leave the room for it.

local st = require "util.stanza";
local jid = require "util.jid";
local now = require "util.time".now;

local xmlns = "urn:samtek:deliver:0";
local trusted = module:get_option_set("samtek_deliver_trusted", {});
local remember_for = module:get_option_number("samtek_deliver_remember", 86400); -- seconds
local max_ids = module:get_option_number("samtek_deliver_max_ids", 100000);
local MAX_ID, MAX_BODY = 128, 16384; -- characters, bytes
local samtek_log = module:require "samtek_log";
local log_refused = samtek_log.limiter("warn", "refused delivery requests");

-- Delivered ids: key -> time, plus a FIFO of keys for eviction (oldest first).
local seen, fifo, head, tail = {}, {}, 1, 0;

-- The room for a groupchat `to` on a MUC service of this Prosody, or nil.
local function local_room(to)
	local host_session = prosody.hosts[jid.host(to)];
	local muc = host_session and host_session.modules and host_session.modules.muc;
	if not muc or not muc.get_room_from_jid then return nil, false; end
	return muc.get_room_from_jid(jid.bare(to)), true;
end

local function forget_old(t)
	while head <= tail do
		local key = fifo[head];
		if tail - head + 1 <= max_ids and t - seen[key] < remember_for then break; end
		seen[key], fifo[head], head = nil, nil, head + 1;
	end
end

local function remember(key, t)
	tail = tail + 1;
	fifo[tail], seen[key] = key, t;
	forget_old(t);
end

module:hook("iq-set/host/" .. xmlns .. ":deliver", function(event)
	local origin, stanza = event.origin, event.stanza;
	local from = stanza.attr.from;
	local component = jid.bare(from);
	if not trusted:contains(component) then
		log_refused(component, "delivery request from untrusted %s refused", tostring(from));
		origin.send(st.error_reply(stanza, "auth", "forbidden", "Not a trusted SAMTEK component"));
		return true;
	end
	local req = stanza.tags[1];
	local id = req.attr.id;
	local message = req:get_child("message", "jabber:client");
	if type(id) ~= "string" or #id == 0 or #id > MAX_ID or not message or not message.attr.to
		or not jid.prep(message.attr.to) then
		origin.send(st.error_reply(stanza, "modify", "bad-request",
			"need an id (1.." .. MAX_ID .. ") and a <message/> with a valid 'to'"));
		return true;
	end
	local body = message:get_child_text("body");
	if body and #body > MAX_BODY then
		origin.send(st.error_reply(stanza, "modify", "not-acceptable", "body too long"));
		return true;
	end
	local key = component .. "\0" .. id;
	if not seen[key] then
		local out = st.clone(message);
		-- Children parsed inside the IQ carry xmlns="jabber:client"; a routed stanza has none
		-- (else get_child("body") misses them, e.g. MUC history and MAM skip the message).
		out.attr.xmlns = nil;
		out:maptags(function(tag)
			if tag.attr.xmlns == "jabber:client" then tag.attr.xmlns = nil; end
			return tag;
		end);
		-- The component may speak as itself or one of its resources (…/rooms), nobody else.
		if not out.attr.from or jid.bare(out.attr.from) ~= component then out.attr.from = from; end
		if out.attr.type == "groupchat" then
			local room, is_muc = local_room(out.attr.to);
			if is_muc and not room then
				origin.send(st.error_reply(stanza, "cancel", "item-not-found", "no such room"));
				return true;
			end
			if room then
				local nick = req.attr.nick;
				if type(nick) ~= "string" or #nick == 0 or #nick > MAX_ID then nick = "SAMTEK"; end
				out.attr.from, out.attr.to = room.jid .. "/" .. nick, nil;
				out.attr.id = out.attr.id or id;
				room:broadcast_message(out);
			else
				module:send(out);
			end
		else
			module:send(out);
		end
		remember(key, now());
	end
	origin.send(st.reply(stanza));
	return true;
end);
