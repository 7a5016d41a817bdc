-- Example Prosody 0.12 configuration for one SAMTEK region (domain region.test).
-- Copy to /etc/prosody/prosody.cfg.lua and adapt names, certificates and the secret.
-- See README.md in this directory for what mod_samtek_overlay does and who may control it.

admins = {
	-- SAMTEK's component is an admin so that it can create and configure project rooms on
	-- conference.region.test (it becomes owner of every room).  Add human admins here too.
	"samtek.region.test";
}

-- Where the mod_samtek_*.lua modules and samtek_log.lib.lua live (copy them there, README.md).
plugin_paths = { "/usr/local/lib/prosody/samtek-modules" }

modules_enabled = {
	"roster"; "saslauth"; "tls"; "dialback"; "disco"; "carbons"; "pep"; "private";
	"blocklist"; "vcard4"; "vcard_legacy"; "version"; "uptime"; "time"; "ping";
	"register"; "mam"; "csi_simple"; "smacks";
	"bookmarks"; -- XEP-0402 bookmarks; SAMTEK adds project rooms to users' bookmarks later
	"admin_shell";
}

-- mod_blocklist keeps 64 users' blocklists in memory by default; a stanza from anyone else
-- first reads the account and blocklist files.  At a meeting boundary every user sends
-- presence at once: keep them all (at least the users online at once; one small table
-- each).  About halves Prosody's CPU at the boundary (docs/benchmarks.md).
blocklist_cache_size = 10000

c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false

authentication = "internal_hashed"
storage = "internal"

log = {
	info = "/var/log/prosody/prosody.log";
	error = "/var/log/prosody/prosody.err";
}

certificates = "certs"
pidfile = "/run/prosody/prosody.pid"

-- The XEP-0114 component port is for SAMTEK only: keep it on loopback (or a private
-- interface) and firewalled.  Default port 5347.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

VirtualHost "region.test"
	modules_enabled = {
		"samtek_overlay"; "samtek_rooms"; "samtek_deliver"; "samtek_presence_info"; "samtek_dnd";
	}
	-- Component JIDs allowed to set/clear/list presence overlays of this host's users.
	samtek_overlay_trusted = { "samtek.region.test" }
	-- ... and to ask who is online, with what they set and since when (the assistant's
	-- `status`; README.md, mod_samtek_presence_info).
	samtek_presence_info_trusted = { "samtek.region.test" }
	-- ... and to add/remove project-room bookmarks in users' PEP (deploy/rooms.md).
	samtek_rooms_trusted = { "samtek.region.test" }
	-- ... and to have chat messages delivered and confirmed (at least once, shown once).
	samtek_deliver_trusted = { "samtek.region.test" }
	-- ... and to hear "dnd on/off" of the users it watches (DND to the phone, deploy/telephony.md).
	samtek_dnd_trusted = { "samtek.region.test" }
	-- Defaults, shown for reference: refused requests are logged once per sender and
	-- interval (at most `burst` lines), then counted; rooms per client that get overlay re-sends.
	-- samtek_log_interval = 60
	-- samtek_log_burst = 10
	-- samtek_overlay_max_rooms = 100

-- SAMTEK itself.  The secret must match SAMTEK's configuration.  ENV_<NAME> reads the
-- environment variable <NAME> (Prosody 0.12 config feature): set it in the service unit
-- (systemctl edit prosody -> Environment=SAMTEK_COMPONENT_SECRET=...), never commit it.
-- Unset -> no secret -> Prosody refuses the component, which is the safe failure.
Component "samtek.region.test"
	component_secret = ENV_SAMTEK_COMPONENT_SECRET

-- Multi-user chat for project rooms, with message archive (XEP-0313) per room.
-- Only admins (SAMTEK's component, see `admins`) may create rooms here: with "local", any
-- user could create a project room's address first (with a password, say) before SAMTEK
-- does.  Give people a separate MUC host if they should create their own rooms.
Component "conference.region.test" "muc"
	modules_enabled = { "muc_mam"; "samtek_mention" }
	-- Room messages addressed to SAMTEK ("SAMTEK: møter") go to the component, and only
	-- those: SAMTEK is no occupant (deploy/rooms.md, "Commands in a room").
	samtek_mention_component = "samtek.region.test"
	restrict_room_creation = true
	muc_room_cache_size = 2000 -- at least the number of project rooms (deploy/rooms.md)
