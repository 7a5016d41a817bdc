-- mod_samtek_mention: hands SAMTEK the room messages addressed to it, and only those.
-- Load it on the MUC component; see deploy/rooms.md ("Commands in a room").
--
-- Why: SAMTEK is no occupant of the project rooms; an occupant would receive every message
-- of every room.  This module sees each groupchat message as the room handles it, and for one
-- that starts with the nick ("SAMTEK: møter", "SAMTEK, møter", "@SAMTEK møter") sends a copy
-- to the component, with the sender's real bare JID (which the room knows even when it
-- hides it from the occupants):
--
--   <message from="room@conference.region.test" to="samtek.region.test" type="normal">
--     <addressed xmlns="urn:samtek:room:0" jid="kari@region.test">møter</addressed>
--   </message>
--
-- The message itself reaches the room as usual.  SAMTEK answers in the room.

local st = require "util.stanza";

local xmlns = "urn:samtek:room:0";
local component = module:get_option_string("samtek_mention_component");
local nick = module:get_option_string("samtek_mention_nick", "SAMTEK"):lower();
local MAX_BODY = 2048; -- bytes; SAMTEK refuses commands longer than 500 characters anyway

if not component then
	module:log("error", "samtek_mention_component is not set: no room commands reach SAMTEK");
	return;
end

-- The command after the address, or nil when the message is not addressed to SAMTEK.
local function command_of(body)
	local text = body:match("^%s*(.-)%s*$");
	local lower = text:lower(); -- ASCII only: byte positions stay those of `text`
	for _, prefix in ipairs({ "@" .. nick, nick }) do
		if lower:sub(1, #prefix) == prefix then
			-- a separator must follow: "SAMTEKs møte" is no address
			local command = text:sub(#prefix + 1):match("^[%s:,]+(%S.*)$");
			if command then return command; end
		end
	end
	return nil;
end

-- After the room's role check (priority 50): visitors and non-occupants never get here.
module:hook("muc-occupant-groupchat", function(event)
	local occupant = event.occupant;
	if not occupant then return; end
	local body = event.stanza:get_child_text("body");
	if not body or #body > MAX_BODY then return; end
	local command = command_of(body);
	if not command then return; end
	module:send(st.message({ from = event.room.jid; to = component; type = "normal" })
		:tag("addressed", { xmlns = xmlns; jid = occupant.bare_jid }):text(command):up());
end, -10);
