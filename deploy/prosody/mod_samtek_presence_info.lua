-- mod_samtek_presence_info: tells a trusted XMPP component (SAMTEK) whether local users are
-- online, the show/status they set themselves, and since when. The chat assistant's
-- `status` answers with it. Load it on a VirtualHost next to mod_samtek_overlay; see README.md.
--
-- Why a module: a component is nobody's contact, so it never sees users' presence, and
-- XEP-0012 last activity is only answered to subscribers. This module answers only the
-- components in `samtek_presence_info_trusted`, only about users of its own host, at most
-- MAX_USERS per request. What users' own clients set is read from their sessions (the real
-- presence: mod_samtek_overlay never changes it); "since" is kept in memory only.

local math = require "math";
local st = require "util.stanza";
local jid = require "util.jid";
local datetime = require "util.datetime";
local now = require "util.time".now;

local xmlns = "urn:samtek:presence-info:0";
local host = module.host;
local trusted = module:get_option_set("samtek_presence_info_trusted", {});
local bare_sessions = prosody.bare_sessions;
local MAX_USERS = 20;

-- bare JID -> { at = epoch s, show = ..., status = ... } of the last change of what the
-- user set (a different show/status, logging in, or the last resource logging out).
local since = {};

local function state_of(bare)
	local user = bare_sessions[bare];
	local best;
	for _, session in pairs(user and user.sessions or {}) do
		local p = session.presence;
		if p and p.attr.type == nil then
			local priority = tonumber(p:get_child_text("priority")) or 0;
			if not best or priority > best.priority then
				best = { priority = priority, show = p:get_child_text("show") or "available",
					status = p:get_child_text("status") };
			end
		end
	end
	return best;
end

local function note(bare)
	local current, last = state_of(bare), since[bare];
	if not current and not last then return; end -- never seen online here: since unknown
	local show = current and current.show or "offline";
	local status = current and current.status or nil;
	if not last or last.show ~= show or last.status ~= status then
		since[bare] = { at = now(), show = show, status = status };
	end
end

-- A broadcast presence from a client (available or unavailable): look again once mod_presence
-- has stored it in the session (it handles the event after us and ends it).
module:hook("pre-presence/bare", function(event)
	local origin, stanza = event.origin, event.stanza;
	if origin.type ~= "c2s" or origin.host ~= host or not origin.username or stanza.attr.to then return; end
	local bare = origin.username .. "@" .. host;
	module:add_timer(0, function() note(bare); end);
end, 50);
module:hook("resource-unbind", function(event)
	local session = event.session;
	if session.username then
		local bare = session.username .. "@" .. host;
		module:add_timer(0, function() note(bare); end);
	end
end);

-- <iq type='get'><query xmlns='urn:samtek:presence-info:0'><user jid='…'/>…</query></iq>
-- -> <query><user jid='…' online='true|false' show='dnd' since='ISO-8601'>status</user></query>
module:hook("iq-get/host/" .. xmlns .. ":query", function(event)
	local stanza = event.stanza;
	if not trusted:contains(jid.bare(stanza.attr.from)) then
		module:log("debug", "presence info request from untrusted %s refused", stanza.attr.from);
		event.origin.send(st.error_reply(stanza, "auth", "forbidden", "Not a trusted component"));
		return true;
	end
	local reply = st.reply(stanza):tag("query", { xmlns = xmlns });
	local count = 0;
	for user in stanza.tags[1]:childtags("user", xmlns) do
		local bare = jid.bare(jid.prep(user.attr.jid or "") or "");
		if bare and jid.host(bare) == host and count < MAX_USERS then
			count = count + 1;
			note(bare); -- a change whose timer has not run yet counts from now
			local current, last = state_of(bare), since[bare];
			local attrs = { jid = bare, online = current and "true" or "false" };
			if current then attrs.show = current.show; end
			if last and last.show == (current and current.show or "offline")
				and last.status == (current and current.status or nil) then
				attrs.since = datetime.datetime(math.floor(last.at));
			end
			reply:tag("user", attrs);
			if current and current.status then reply:text(current.status); end
			reply:up();
		end
	end
	event.origin.send(reply);
	return true;
end);
