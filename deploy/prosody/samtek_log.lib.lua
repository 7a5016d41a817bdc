-- samtek_log.lib.lua: rate-limited log lines for the SAMTEK modules (module:require "samtek_log").
--
-- Why: anyone with an account can send a module thousands of refused IQs; one log line each
-- fills the disk and buries real events.  A limiter logs the first event of each key (the
-- sender) per interval, at most `samtek_log_burst` lines per interval, and one summary line
-- with the count of what it left out.  Memory is bounded: at most MAX_KEYS keys per interval.

local now = require "util.time".now;

local interval = math.max(module:get_option_number("samtek_log_interval", 60), 0.01); -- seconds
local burst = math.max(module:get_option_number("samtek_log_burst", 10), 1); -- lines per interval
local MAX_KEYS = 1000;

local lib = {};
local flushes = {};

-- A count still pending at shutdown is logged then, not lost.
module:hook_global("server-stopping", function()
	for _, flush in ipairs(flushes) do flush(); end
end);

-- Returns log(key, format, ...): `what` names the events in the summary line.
function lib.limiter(level, what)
	local started, lines, keys, nkeys, suppressed, timer = nil, 0, {}, 0, 0, nil;

	local function flush()
		if suppressed > 0 then
			module:log(level, "%d more %s not logged (interval %gs, %d%s sender(s))",
				suppressed, what, interval, nkeys, nkeys >= MAX_KEYS and "+" or "");
		end
		if timer then timer:stop(); end
		started, lines, keys, nkeys, suppressed, timer = nil, 0, {}, 0, 0, nil;
	end
	flushes[#flushes + 1] = flush;

	return function(key, fmt, ...)
		local t = now();
		if started and t - started >= interval then flush(); end
		started = started or t;
		key = tostring(key);
		local seen = keys[key];
		if not seen and nkeys < MAX_KEYS then
			keys[key] = true;
			nkeys = nkeys + 1;
		end
		if not seen and lines < burst then
			lines = lines + 1;
			module:log(level, fmt, ...);
			return;
		end
		suppressed = suppressed + 1;
		-- The summary comes at the end of the interval even if nothing else happens.
		timer = timer or module:add_timer(math.max(started + interval - t, 0), function() timer = nil; flush(); end);
	end
end

return lib;
