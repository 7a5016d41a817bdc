%%% mod_samtek_presence_info: tells a trusted XMPP component (SAMTEK) whether local users are
%%% online, the show/status they set themselves, and since when.  The chat assistant's
%%% `status` answers with it.  The same protocol as deploy/prosody/mod_samtek_presence_info.lua
%%% (namespace urn:samtek:presence-info:0); see README.md next to this file.
%%%
%%% Why a module: a component is nobody's contact, so it never sees users' presence, and
%%% XEP-0012 last activity is only answered to subscribers.  This module answers only the
%%% components in `trusted`, only about users of its own host, at most ?MAX_USERS per request.
%%% What users' own clients set is read from their sessions (pres_last: mod_samtek_overlay
%%% never changes it, it only rewrites the copies contacts get); "since" is kept in memory
%%% only, in the per-host process of the node where the user's session is.
-module(mod_samtek_presence_info).
-behaviour(gen_mod).
-behaviour(gen_server).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).
-export([process_iq/1, decode_iq_subel/1, c2s_self_presence/1, sm_remove_connection_hook/3]).

-include("xmpp.hrl").
-include("logger.hrl").

-define(NS, <<"urn:samtek:presence-info:0">>).
-define(MAX_USERS, 20).         % users answered per request, as the Prosody module
-define(QUERY_TIMEOUT, 5000).   % ms: the sessions asked for one request (1 s each at most)
-define(MAX_STATUS, 1024).      % characters of a status quoted (the stanza size is the only
                                % other bound, and the answer holds ?MAX_USERS of them)

start(Host, Opts) ->
    ejabberd_hooks:add(c2s_self_presence, Host, ?MODULE, c2s_self_presence, 50),
    ejabberd_hooks:add(sm_remove_connection_hook, Host, ?MODULE, sm_remove_connection_hook, 50),
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, ?NS, ?MODULE, process_iq),
    gen_mod:start_child(?MODULE, Host, Opts).

stop(Host) ->
    ejabberd_hooks:delete(c2s_self_presence, Host, ?MODULE, c2s_self_presence, 50),
    ejabberd_hooks:delete(sm_remove_connection_hook, Host, ?MODULE, sm_remove_connection_hook,
                          50),
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, ?NS),
    gen_mod:stop_child(?MODULE, Host).

reload(_Host, _NewOpts, _OldOpts) -> ok.

depends(_Host, _Opts) -> [].

mod_opt_type(trusted) -> econf:list(econf:jid());
mod_opt_type(log_interval) -> econf:pos_int();
mod_opt_type(log_burst) -> econf:pos_int().

mod_options(_Host) -> [{trusted, []}, {log_interval, 60}, {log_burst, 10}].

mod_doc() ->
    #{desc => [<<"Who is online, for SAMTEK's assistant: the show/status users set "
                 "themselves and since when, answered only to trusted components.  See "
                 "deploy/ejabberd/README.md.">>],
      opts => [{trusted, #{value => "[JID]", desc => <<"Component JIDs that may ask.">>}},
               {log_interval, #{value => "seconds", desc => <<"Log rate window (default 60).">>}},
               {log_burst, #{value => "pos_integer()", desc => <<"Lines per window (10).">>}}]}.

trusted(Host) -> gen_mod:get_module_opt(Host, ?MODULE, trusted).

proc(Host) -> gen_mod:get_module_proc(Host, ?MODULE).

%%% Changes of what the user set: her own broadcast presence (available or unavailable), or a
%%% session closing.  Both run in her c2s process, which stores the presence after the hook:
%%% the per-host process looks at her sessions when this message comes first in its queue,
%%% and its get_presence call waits until the c2s process has finished (as Prosody's timer).
c2s_self_presence({_Pres, #{jid := #jid{luser = U, lserver = S}}} = Acc) ->
    gen_server:cast(proc(S), {note, U}),
    Acc;
c2s_self_presence(Acc) ->
    Acc.

sm_remove_connection_hook(_SID, #jid{luser = U, lserver = S}, _Info) ->
    gen_server:cast(proc(S), {note, U}).

%%% <iq type='get'><query xmlns='urn:samtek:presence-info:0'><user jid='…'/>…</query></iq>
%%% -> <query><user jid='…' online='true|false' show='dnd' since='ISO-8601'>status</user></query>
%% gen_iq_handler would decode the request with the xmpp codecs, which know no SAMTEK
%% namespace: keep the raw element.
decode_iq_subel(El) -> El.

process_iq(#iq{from = From, to = #jid{lserver = Host}, type = Type, lang = Lang,
               sub_els = SubEls} = IQ) ->
    case is_trusted(From, Host) of
        false ->
            log_refused(Host, From),
            xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted component">>, Lang));
        true ->
            case {Type, SubEls} of
                {get, [#xmlel{name = <<"query">>} = El]} -> answer(IQ, El, Host);
                _ ->
                    xmpp:make_error(IQ, xmpp:err_bad_request(<<"expected <query/> in a get">>,
                                                             Lang))
            end
    end.

answer(#iq{lang = Lang} = IQ, El, Host) ->
    %% Local users only, the first ?MAX_USERS of them; anything else is not answered.
    Users = lists:sublist([U || #xmlel{name = <<"user">>} = User <- El#xmlel.children,
                                in_ns(User), U <- [local_user(User, Host)], U /= skip],
                          ?MAX_USERS),
    try gen_server:call(proc(Host), {query, Users}, ?QUERY_TIMEOUT) of
        States ->
            xmpp:make_iq_result(IQ, #xmlel{name = <<"query">>, attrs = [{<<"xmlns">>, ?NS}],
                                           children = [user_el(S) || S <- States]})
    catch exit:{timeout, _} ->
            ?WARNING_MSG("presence info: the sessions did not answer within ~B ms",
                         [?QUERY_TIMEOUT]),
            xmpp:make_error(IQ, xmpp:err_internal_server_error(<<"Try again later">>, Lang))
    end.

in_ns(#xmlel{} = El) -> lists:member(fxml:get_tag_attr_s(<<"xmlns">>, El), [<<>>, ?NS]).

local_user(User, Host) ->
    try jid:decode(fxml:get_tag_attr_s(<<"jid">>, User)) of
        #jid{luser = U, lserver = Host} when U /= <<>> -> U;
        _ -> skip  % another host, or no user part
    catch _:_ -> skip  % not a JID
    end.

user_el({Bare, Current, Since}) ->
    {Online, Show, Status} = case Current of
                                 none -> {<<"false">>, [], <<>>};
                                 {_Prio, Sh, St} -> {<<"true">>, [{<<"show">>, Sh}], St}
                             end,
    SinceAttr = case Since of
                    none -> [];
                    At -> [{<<"since">>, list_to_binary(
                                          calendar:system_time_to_rfc3339(
                                            At, [{unit, second}, {offset, "Z"}]))}]
                end,
    #xmlel{name = <<"user">>,
           attrs = [{<<"jid">>, Bare}, {<<"online">>, Online} | Show ++ SinceAttr],
           children = case Status of <<>> -> []; _ -> [{xmlcdata, Status}] end}.

is_trusted(From, Host) ->
    Bare = jid:tolower(jid:remove_resource(From)),
    lists:member(Bare, [jid:tolower(jid:remove_resource(J)) || J <- trusted(Host)]).

%%% What the user set: the available presence of highest priority among her sessions (on any
%%% node), as {Priority, Show, Status}, or none.  Runs in the per-host process only.
state_of(U, S) ->
    lists:foldl(
      fun(R, Best) ->
              case session_presence(U, S, R) of
                  #presence{type = available, show = Show, status = Status} = P ->
                      Prio = case P#presence.priority of undefined -> 0; N -> N end,
                      Sh = case Show of undefined -> <<"available">>; _ -> atom_to_binary(Show) end,
                      case Best of
                          {BestPrio, _, _} when BestPrio >= Prio -> Best;
                          _ -> {Prio, Sh, string:slice(xmpp:get_text(Status), 0, ?MAX_STATUS)}
                      end;
                  _ -> Best
              end
      end, none, ejabberd_sm:get_user_resources(U, S)).

session_presence(U, S, R) ->
    case ejabberd_sm:get_session_pid(U, S, R) of
        Pid when is_pid(Pid) ->
            try ejabberd_c2s:get_presence(Pid)
            catch Class:Reason ->  % it ended meanwhile, or did not answer within 1 s
                    ?DEBUG("presence info: no presence from ~p: ~p:~p", [Pid, Class, Reason]),
                    none
            end;
        _ -> none
    end.

%%% Per-host process: "since" (user -> {Unix seconds, {show, status}} of the last change
%%% of what she set: a different show/status, logging in, or the last session ending), and
%%% the rate-limited refusal log (any account can send thousands of refused requests: one
%%% line per sender and interval, then a count).
-record(state, {host :: binary(), since = #{} :: map(),
                log :: samtek_log:limiter()}).

init([Host, Opts]) ->
    process_flag(trap_exit, true),
    Log = samtek_log:new("presence info request", "presence info requests", Opts),
    {ok, #state{host = Host, log = Log}}.

handle_call({query, Users}, _From, #state{host = Host} = State) ->
    {States, State1} =
        lists:mapfoldl(
          fun(U, Acc) ->
                  {Current, Acc1} = note(U, Acc),  % a change still queued counts from now
                  Since = case maps:get(U, Acc1#state.since, none) of
                              {At, Key} -> case Key == key(Current) of
                                               true -> At;
                                               false -> none
                                           end;
                              none -> none
                          end,
                  {{jid:encode(jid:make(U, Host)), Current, Since}, Acc1}
          end, State, Users),
    {reply, States, State1};
handle_call(_Request, _From, State) -> {reply, {error, badarg}, State}.

handle_cast({note, U}, State) ->
    {_Current, State1} = note(U, State),
    {noreply, State1};
handle_cast({refused, Key, Sender}, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:refused(Key, Sender, Log)}};
handle_cast(_Msg, State) -> {noreply, State}.

%% The show/status a "since" entry is about: offline when no session is available.
key(none) -> {<<"offline">>, <<>>};
key({_Prio, Show, Status}) -> {Show, Status}.

note(U, #state{host = Host, since = Since} = State) ->
    Current = state_of(U, Host),
    Key = key(Current),
    case maps:get(U, Since, none) of
        none when Current == none -> {Current, State};  % never seen online here: unknown
        {_At, Key} -> {Current, State};
        _ -> {Current, State#state{since = Since#{U => {erlang:system_time(second), Key}}}}
    end.

log_refused(Host, From) ->
    gen_server:cast(proc(Host),
                    {refused, jid:encode(jid:remove_resource(From)), jid:encode(From)}).

handle_info(samtek_log_flush, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:flush(Log)}};
handle_info(_Info, State) -> {noreply, State}.

terminate(_Reason, #state{log = Log}) -> samtek_log:flush(Log), ok.

code_change(_OldVsn, State, _Extra) -> {ok, State}.
