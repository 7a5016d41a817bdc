-- mod_samtek_oof: tells a trusted XMPP component (SAMTEK) when someone writes a chat message
-- to a user who is out of office, so SAMTEK can send one automatic reply with their OOF text.
-- Load it on a VirtualHost next to mod_samtek_overlay; see README.md next to this file.
--
-- Why a module: a component never sees messages between users. Only users that SAMTEK
-- listed as out of office are watched, and SAMTEK is told only who wrote to whom — never
-- the message text. The list is in memory: SAMTEK re-sends it after every (re)connect.

local st = require "util.stanza";
local jid = require "util.jid";
local now = require "util.time".now;
local rostermanager = require "core.rostermanager";

local xmlns = "urn:samtek:oof:0";
local host = module.host;
local trusted = module:get_option_set("samtek_oof_trusted", {});
local MAX_USERS = 100000;
-- Refusals are logged rate-limited: any account can send thousands of them.
local log_refused = module:require "samtek_log".limiter("warn", "refused OOF requests");

-- component JID -> { bare JID -> epoch seconds until which the user is out of office }.
-- One list per component: with several SAMTEK instances each lists only the people it
-- serves, so one instance's list must not replace another's.
local lists = {};

local function away_until(user)
	local till;
	for _, list in pairs(lists) do
		local t = list[user];
		if t and (not till or t > till) then till = t; end
	end
	return till;
end

local function is_trusted(event)
	if trusted:contains(jid.bare(event.stanza.attr.from)) then return true; end
	log_refused(jid.bare(event.stanza.attr.from), "oof request from untrusted %s refused", event.stanza.attr.from);
	event.origin.send(st.error_reply(event.stanza, "auth", "forbidden", "Not a trusted OOF controller"));
	return false;
end

-- <iq type='set'><oof xmlns='urn:samtek:oof:0'><user jid='…' until='epoch'/>…</oof></iq>
-- replaces the sending component's whole list (SAMTEK always sends all of it: no drift after
-- a reconnect).
module:hook("iq-set/host/" .. xmlns .. ":oof", function(event)
	if not is_trusted(event) then return true; end
	local new, count = {}, 0;
	for user in event.stanza.tags[1]:childtags("user", xmlns) do
		local bare, till = jid.bare(user.attr.jid or ""), tonumber(user.attr["until"]);
		if bare and till and jid.host(bare) == host and count < MAX_USERS then
			new[bare] = till;
			count = count + 1;
		end
	end
	lists[jid.bare(event.stanza.attr.from)] = new;
	module:log("debug", "oof list of %s replaced: %d user(s)", jid.bare(event.stanza.attr.from), count);
	event.origin.send(st.reply(event.stanza));
	return true;
end);

-- A chat message with a body to a watched user: notify the component; never consume it.
local function check(event)
	local stanza = event.stanza;
	local kind = stanza.attr.type or "normal";
	if (kind ~= "chat" and kind ~= "normal") or not stanza:get_child("body") then return; end
	local to = jid.bare(stanza.attr.to);
	local till = to and away_until(to);
	if not till or till <= now() then return; end
	local from = stanza.attr.from;
	local from_node, from_host = jid.split(from);
	-- Only people write: skip components (the assistant's own replies) and the user herself.
	if not from_node or jid.bare(from) == to or trusted:contains(from_host) then return; end
	-- contact='true': the sender is in the recipient's roster. SAMTEK sends the external
	-- text to outsiders whose mailbox allows it only for known senders (contacts).
	local roster = rostermanager.load_roster(jid.split(to));
	local contact = roster and roster[jid.bare(from)] and "true" or nil;
	for component in trusted do
		module:send(st.message({ from = host, to = component, type = "normal" })
			:tag("oof-hit", { xmlns = xmlns, from = from, to = to, contact = contact }));
	end
end

module:hook("message/bare", check, 1);
module:hook("message/full", check, 1);
