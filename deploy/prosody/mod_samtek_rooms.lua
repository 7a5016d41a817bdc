-- mod_samtek_rooms: lets a trusted XMPP component (SAMTEK) add or remove a XEP-0402 bookmark
-- (urn:xmpp:bookmarks:1) in a local user's PEP, so a new project-room member finds the room
-- in every client.  Load it on the VirtualHost; see deploy/rooms.md.
--
-- Why a module: mod_pep makes only the account itself an owner of its PEP nodes; being in
-- `admins` gives a component no right to publish there (measured on Prosody 0.12.3).

local st = require "util.stanza";
local jid = require "util.jid";

local xmlns = "urn:samtek:rooms:0";
local xmlns_bookmarks = "urn:xmpp:bookmarks:1";
local xmlns_pubsub = "http://jabber.org/protocol/pubsub";
local trusted = module:get_option_set("samtek_rooms_trusted", {});
local mod_pep = module:depends("pep");
-- Rate-limited: any account can send thousands of refused requests.
local samtek_log = module:require "samtek_log";
local log_refused = samtek_log.limiter("warn", "refused bookmark requests");
local log_failed = samtek_log.limiter("warn", "failed bookmark writes");

-- The node options XEP-0402 requires (the same mod_bookmarks uses).
local node_options = {
	["persist_items"] = true;
	["max_items"] = "max";
	["send_last_published_item"] = "never";
	["access_model"] = "whitelist";
};

module:hook("iq-set/host/" .. xmlns .. ":bookmark", function(event)
	local origin, stanza = event.origin, event.stanza;
	if not trusted:contains(jid.bare(stanza.attr.from)) then
		log_refused(jid.bare(stanza.attr.from), "bookmark request from untrusted %s refused", stanza.attr.from);
		origin.send(st.error_reply(stanza, "auth", "forbidden", "Not a trusted rooms controller"));
		return true;
	end
	local request = stanza.tags[1];
	local user, host = jid.split(request.attr.jid or "");
	local room = request.attr.room and jid.prep(request.attr.room);
	if not user or host ~= module.host or not room then
		origin.send(st.error_reply(stanza, "modify", "bad-request", "Need jid (a local user) and room"));
		return true;
	end
	local service = mod_pep.get_pep_service(user);
	local ok, err;
	if request.attr.remove == "true" then
		ok, err = service:retract(xmlns_bookmarks, true, room, st.stanza("retract", { id = room }));
		if not ok and err == "item-not-found" then ok = true; end
	else
		local conference = request:get_child("conference", xmlns_bookmarks);
		if not conference then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "Missing <conference/>"));
			return true;
		end
		if not service.nodes[xmlns_bookmarks] then
			ok, err = service:create(xmlns_bookmarks, true, node_options);
			if not ok then
				origin.send(st.error_reply(stanza, "wait", "internal-server-error", "create: " .. tostring(err)));
				return true;
			end
		end
		local item = st.stanza("item", { xmlns = xmlns_pubsub; id = room }):add_child(st.clone(conference));
		ok, err = service:publish(xmlns_bookmarks, true, room, item);
	end
	if not ok then
		log_failed(request.attr.jid, "bookmark for %s in %s failed: %s", room, request.attr.jid, tostring(err));
		origin.send(st.error_reply(stanza, "wait", "internal-server-error", tostring(err)));
	else
		origin.send(st.reply(stanza));
	end
	return true;
end);
