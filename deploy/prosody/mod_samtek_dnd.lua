-- mod_samtek_dnd: tells a trusted XMPP component (SAMTEK) when a watched user switches
-- "do not disturb" on or off by hand in a chat client, so SAMTEK can switch the DND of
-- her phone too. Load it on a VirtualHost next to mod_samtek_overlay; see README.md.
--
-- Why a module: a component never sees users' presence. Only users SAMTEK lists are
-- watched, and SAMTEK is told only "dnd on" / "dnd off" — never the status text, never
-- any other show value. The list is in memory: SAMTEK re-sends it after every (re)connect.

local st = require "util.stanza";
local jid = require "util.jid";

local xmlns = "urn:samtek:dnd:0";
local host = module.host;
local trusted = module:get_option_set("samtek_dnd_trusted", {});
local bare_sessions = prosody.bare_sessions;
local MAX_USERS = 100000;
-- Refusals are logged rate-limited: any account can send thousands of them.
local log_refused = module:require "samtek_log".limiter("warn", "refused DND requests");

-- bare JID -> true for every user whose manual DND changes SAMTEK wants to hear about.
local watched, watched_count = {}, 0;

local function is_trusted(event)
	if trusted:contains(jid.bare(event.stanza.attr.from)) then return true; end
	log_refused(jid.bare(event.stanza.attr.from), "dnd request from untrusted %s refused", event.stanza.attr.from);
	event.origin.send(st.error_reply(event.stanza, "auth", "forbidden", "Not a trusted DND controller"));
	return false;
end

-- <iq type='set'><watch xmlns='urn:samtek:dnd:0'><user jid='…'/>…</watch></iq> replaces the
-- whole list (SAMTEK always sends all of it: no drift after a reconnect); a long list comes
-- in parts, the first replacing, the others with add='true' (a component stanza is limited
-- to 512 KiB by default).
module:hook("iq-set/host/" .. xmlns .. ":watch", function(event)
	if not is_trusted(event) then return true; end
	local request = event.stanza.tags[1];
	local new, count = {}, 0;
	if request.attr.add == "true" then new, count = watched, watched_count; end
	for user in request:childtags("user", xmlns) do
		local bare = jid.prep(user.attr.jid or "");
		if bare and not new[bare] and jid.host(bare) == host and jid.node(bare)
			and not jid.resource(bare) and count < MAX_USERS then
			new[bare] = true;
			count = count + 1;
		end
	end
	watched, watched_count = new, count;
	module:log("debug", "dnd watch list: %d user(s)", count);
	event.origin.send(st.reply(event.stanza));
	return true;
end);

local function is_dnd(presence)
	return presence ~= nil and presence.attr.type == nil and presence:get_child_text("show") == "dnd";
end

-- Is any online resource of the user in dnd? `origin` counts with `presence` (nil: as stored).
local function user_in_dnd(bare, origin, presence)
	local user = bare_sessions[bare];
	for _, session in pairs(user and user.sessions or {}) do
		local p = session.presence;
		if session == origin and presence ~= nil then p = presence; end
		if is_dnd(p) then return true; end
	end
	return false;
end

local function notify(bare, on)
	for component in trusted do
		module:send(st.message({ from = host, to = component, type = "normal" })
			:tag("dnd", { xmlns = xmlns, jid = bare, on = on and "true" or "false" }));
	end
end

-- A broadcast available presence (no 'to') that changes whether the user is in dnd. A
-- resource's initial presence is not a change by hand (a client restoring its last status),
-- nor is a logout: only a status picked while online counts.
local function check(event)
	local origin, stanza = event.origin, event.stanza;
	if stanza.attr.to or stanza.attr.type ~= nil then return; end
	if origin.type ~= "c2s" or origin.host ~= host or not origin.username then return; end
	if not origin.presence then return; end
	local bare = origin.username .. "@" .. host;
	if not watched[bare] then return; end
	-- mod_presence stores the new presence after us (priority 0): origin.presence is the old.
	local before, after = user_in_dnd(bare, origin, nil), user_in_dnd(bare, origin, stanza);
	if before ~= after then
		module:log("debug", "%s switched dnd %s by hand", bare, after and "on" or "off");
		notify(bare, after);
	end
end
module:hook("pre-presence/bare", check, 101);
module:hook("pre-presence/full", check, 101);
