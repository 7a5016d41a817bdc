%%% samtek_log: the rate-limited log of refused requests shared by the mod_samtek_* modules
%%% (the ejabberd counterpart of deploy/prosody/samtek_log.lib.lua).
%%%
%%% Why: any account can send thousands of refused requests; the log gets one line per
%%% sender and interval, at most `burst` of them, then one line with the count of the rest.
%%% A limiter is a value kept in the state of a module's per-host process; that process
%%% receives `samtek_log_flush` when the interval is over and passes the limiter to flush/1.
-module(samtek_log).

-export([new/3, new/4, refused/3, flush/1]).

-include("logger.hrl").

-define(MAX_KEYS, 1000).  % senders remembered per interval

-record(limiter, {what :: string(),         % "oof request", for the line of one refusal
                  plural :: string(),       % "OOF requests", for the count
                  interval :: pos_integer(),
                  burst :: pos_integer(),
                  lines = 0 :: non_neg_integer(),
                  keys = #{} :: map(),
                  suppressed = 0 :: non_neg_integer(),
                  timer = none :: none | reference()}).

-opaque limiter() :: #limiter{}.
-export_type([limiter/0]).

%% With the module's `log_interval` (seconds) and `log_burst` options.
-spec new(string(), string(), gen_mod:opts()) -> limiter().
new(What, Plural, Opts) ->
    new(What, Plural, gen_mod:get_opt(log_interval, Opts), gen_mod:get_opt(log_burst, Opts)).

-spec new(string(), string(), pos_integer(), pos_integer()) -> limiter().
new(What, Plural, Interval, Burst) ->
    #limiter{what = What, plural = Plural, interval = Interval, burst = Burst}.

%% A refused request from `Sender` (its bare JID is `Key`): logged, or counted.
-spec refused(binary(), binary(), limiter()) -> limiter().
refused(Key, Sender, #limiter{keys = Keys, lines = Lines} = L) ->
    Seen = maps:is_key(Key, Keys),
    Keys1 = case Seen orelse maps:size(Keys) >= ?MAX_KEYS of
                true -> Keys;
                false -> Keys#{Key => true}
            end,
    L1 = case L#limiter.timer of
             none -> L#limiter{timer = erlang:send_after(L#limiter.interval * 1000, self(),
                                                         samtek_log_flush)};
             _ -> L
         end,
    case not Seen andalso Lines < L#limiter.burst of
        true ->
            ?WARNING_MSG("~ts from untrusted ~ts refused", [L#limiter.what, Sender]),
            L1#limiter{lines = Lines + 1, keys = Keys1};
        false ->
            L1#limiter{suppressed = L1#limiter.suppressed + 1, keys = Keys1}
    end.

%% The interval is over (or the process stops): the count of what was not logged.
-spec flush(limiter()) -> limiter().
flush(#limiter{suppressed = N, keys = Keys, timer = Timer, interval = Interval} = L) ->
    case Timer of none -> ok; _ -> erlang:cancel_timer(Timer) end,
    N > 0 andalso
        ?WARNING_MSG("~B more refused ~ts not logged (interval ~Bs, ~B~ts sender(s))",
                     [N, L#limiter.plural, Interval, maps:size(Keys),
                      case maps:size(Keys) >= ?MAX_KEYS of true -> "+"; false -> "" end]),
    L#limiter{lines = 0, keys = #{}, suppressed = 0, timer = none}.
