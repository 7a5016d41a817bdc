%%% mod_samtek_dnd: tells a trusted XMPP component (SAMTEK) when a watched user switches
%%% "do not disturb" on or off by hand in a chat client, so SAMTEK can switch the DND of her
%%% phone too.  The same protocol as deploy/prosody/mod_samtek_dnd.lua (urn:samtek:dnd:0);
%%% see README.md.
%%%
%%% Why a module: a component never sees users' presence.  Only users SAMTEK lists are
%%% watched, and SAMTEK is told only "dnd on" / "dnd off", never the status text, never any
%%% other show value.  The list is a mnesia ram table on every node of a cluster (the user's
%%% node sees her presence); SAMTEK re-sends it after every (re)connect.
%%%
%%% How: `user_send_packet` runs in the user's session process before ejabberd stores what
%%% her client sent, as in mod_samtek_overlay.  Each session records in its ejabberd_sm
%%% session info whether its own presence is dnd, so that a change of one resource is
%%% judged against all of hers (on any node): she is in dnd while any available resource is.
%%% Presence set through the HTTP API or an overlay of mod_samtek_overlay never passes this
%%% hook: only what a client sends counts.
-module(mod_samtek_dnd).
-behaviour(gen_mod).
-behaviour(gen_server).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).
-export([process_iq/1, decode_iq_subel/1, user_send_packet/1, c2s_session_resumed/1]).

-include("xmpp.hrl").
-include("logger.hrl").

-define(NS, <<"urn:samtek:dnd:0">>).
-define(TABLE, samtek_dnd).
-define(INFO_KEY, samtek_dnd).  % in the ejabberd_sm session info: this resource is in dnd

%% mnesia wants a value next to the key.
-record(samtek_dnd, {us :: {binary(), binary()}, watched = true :: true}).

start(Host, Opts) ->
    ejabberd_hooks:add(user_send_packet, Host, ?MODULE, user_send_packet, 60),
    ejabberd_hooks:add(c2s_session_resumed, Host, ?MODULE, c2s_session_resumed, 60),
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, ?NS, ?MODULE, process_iq),
    gen_mod:start_child(?MODULE, Host, Opts).

stop(Host) ->
    ejabberd_hooks:delete(user_send_packet, Host, ?MODULE, user_send_packet, 60),
    ejabberd_hooks:delete(c2s_session_resumed, Host, ?MODULE, c2s_session_resumed, 60),
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, ?NS),
    gen_mod:stop_child(?MODULE, Host).

reload(_Host, _NewOpts, _OldOpts) -> ok.

depends(_Host, _Opts) -> [].

mod_opt_type(trusted) -> econf:list(econf:jid());
mod_opt_type(max_users) -> econf:pos_int();
mod_opt_type(log_interval) -> econf:pos_int();
mod_opt_type(log_burst) -> econf:pos_int().

mod_options(_Host) -> [{trusted, []}, {max_users, 100000}, {log_interval, 60}, {log_burst, 10}].

mod_doc() ->
    #{desc => [<<"Manual dnd changes for SAMTEK's phone DND: \"dnd on/off\" of the users "
                 "SAMTEK watches (never the status text).  See deploy/ejabberd/README.md.">>],
      opts => [{trusted, #{value => "[JID]", desc => <<"Component JIDs told about changes.">>}},
               {max_users, #{value => "pos_integer()",
                             desc => <<"Watched users per host (default 100000).">>}},
               {log_interval, #{value => "seconds", desc => <<"Log rate window (default 60).">>}},
               {log_burst, #{value => "pos_integer()", desc => <<"Lines per window (10).">>}}]}.

trusted(Host) -> gen_mod:get_module_opt(Host, ?MODULE, trusted).

%%% The watch list

%% <iq type='set'><watch xmlns='urn:samtek:dnd:0'><user jid='…'/>…</watch></iq> replaces the
%% whole list of this host (SAMTEK always sends all of it: no drift after a reconnect); a
%% long list comes in parts, the first replacing, the others with add='true'.
decode_iq_subel(El) -> El.

process_iq(#iq{from = From, to = #jid{lserver = Host}, type = set, lang = Lang,
               sub_els = [#xmlel{name = <<"watch">>} = El]} = IQ) ->
    case is_trusted(From, Host) of
        false ->
            refuse(IQ, Host, From, Lang);
        true ->
            Add = fxml:get_tag_attr_s(<<"add">>, El) == <<"true">>,
            Listed = [U || #xmlel{name = <<"user">>} = User <- El#xmlel.children,
                           U <- [parse_user(User, Host)], U /= skip],
            Max = gen_mod:get_module_opt(Host, ?MODULE, max_users),
            F = fun() ->
                        Old = mnesia:match_object(#samtek_dnd{us = {'_', Host}, _ = '_'}),
                        Kept = case Add of
                                   true -> Old;
                                   false -> lists:foreach(fun mnesia:delete_object/1, Old), []
                               end,
                        Known = sets:from_list(Kept, [{version, 2}]),
                        New = first_new(Listed, Known, Max - length(Kept), []),
                        lists:foreach(fun mnesia:write/1, New),
                        length(Kept) + length(New)
                end,
            {atomic, Count} = mnesia:transaction(F),
            ?DEBUG("dnd watch list: ~B user(s)", [Count]),
            xmpp:make_iq_result(IQ)
    end;
process_iq(#iq{from = From, to = #jid{lserver = Host}, lang = Lang} = IQ) ->
    case is_trusted(From, Host) of
        false -> refuse(IQ, Host, From, Lang);
        true -> xmpp:make_error(IQ, xmpp:err_bad_request(<<"expected <watch/> in a set">>, Lang))
    end.

refuse(IQ, Host, From, Lang) ->
    log_refused(Host, From),
    xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted DND controller">>, Lang)).

%% The first N users of the request not yet listed, in the request's order (as on Prosody).
first_new(Users, _Known, N, Acc) when Users == []; N =< 0 ->
    lists:reverse(Acc);
first_new([User | Rest], Known, N, Acc) ->
    case sets:is_element(User, Known) of
        true -> first_new(Rest, Known, N, Acc);
        false -> first_new(Rest, sets:add_element(User, Known), N - 1, [User | Acc])
    end.

%% A bare JID of a user of this host, else ignored (as the Prosody module does).
parse_user(User, Host) ->
    try jid:decode(fxml:get_tag_attr_s(<<"jid">>, User)) of
        #jid{luser = U, lserver = Host, lresource = <<>>} when U /= <<>> ->
            #samtek_dnd{us = {U, Host}};
        _ -> skip
    catch _:_ -> skip  % not a JID
    end.

is_trusted(From, Host) ->
    Bare = jid:tolower(jid:remove_resource(From)),
    lists:member(Bare, [jid:tolower(jid:remove_resource(J)) || J <- trusted(Host)]).

%%% Presence

%% In the user's session process, before ejabberd stores what her client sent.  Only a
%% broadcast available presence counts.  A resource's initial presence is not a change by
%% hand (a client restoring its last status), nor is a logout: only a status picked while
%% online.  Every resource records its dnd in the session info, watched or not: SAMTEK may
%% start watching her while she is already in dnd.
user_send_packet({#presence{type = available, to = To, show = Show},
                  #{jid := #jid{luser = U, lserver = S, lresource = R}} = State} = Acc)
  when To == undefined;
       To#jid.luser == U, To#jid.lserver == S, To#jid.lresource == <<>> ->
    Before = case maps:get(pres_last, State, undefined) of
                 undefined -> undefined;
                 #presence{show = Old} -> Old == dnd
             end,
    After = Show == dnd,
    After == (Before == true) orelse ejabberd_sm:set_user_info(U, S, R, ?INFO_KEY, After),
    case Before /= undefined andalso Before /= After andalso watched(U, S) of
        true ->
            Others = others_in_dnd(U, S, R),
            (Before or Others) /= (After or Others) andalso notify(U, S, After);
        false ->
            ok
    end,
    Acc;
%% A logout of the resource (not a change by hand): it no longer counts.
user_send_packet({#presence{type = unavailable, to = To},
                  #{jid := #jid{luser = U, lserver = S, lresource = R},
                    pres_last := #presence{show = dnd}}} = Acc)
  when To == undefined;
       To#jid.luser == U, To#jid.lserver == S, To#jid.lresource == <<>> ->
    ejabberd_sm:set_user_info(U, S, R, ?INFO_KEY, false),
    Acc;
user_send_packet(Acc) ->
    Acc.

%% A resumed stream (XEP-0198) continues in a new session: record its dnd there too.
c2s_session_resumed(#{jid := #jid{luser = U, lserver = S, lresource = R},
                      pres_last := #presence{show = dnd}} = State) ->
    ejabberd_sm:set_user_info(U, S, R, ?INFO_KEY, true),
    State;
c2s_session_resumed(State) ->
    State.

watched(U, S) ->
    gen_mod:is_loaded(S, ?MODULE) andalso mnesia:dirty_read(?TABLE, {U, S}) /= [].

%% Is another available resource of hers in dnd?  Two of her clients changing at the same
%% instant may each judge against the other's old state: a duplicate report, or a missed one.
others_in_dnd(U, S, Self) ->
    lists:any(fun({R, Info}) ->
                      R /= Self andalso is_integer(proplists:get_value(priority, Info))
                          andalso proplists:get_value(?INFO_KEY, Info, false) == true
              end, ejabberd_sm:get_user_info(U, S)).

notify(U, S, On) ->
    Bare = jid:encode(jid:make(U, S)),
    ?DEBUG("~ts switched dnd ~ts by hand", [Bare, case On of true -> "on"; false -> "off" end]),
    El = #xmlel{name = <<"dnd">>,
                attrs = [{<<"xmlns">>, ?NS}, {<<"jid">>, Bare},
                         {<<"on">>, atom_to_binary(On)}]},
    [ejabberd_router:route(#message{from = jid:make(S), to = C, type = normal, sub_els = [El]})
     || C <- trusted(S)],
    ok.

%%% Per-host process: the table, and the rate-limited refusal log (any account can send
%%% thousands of refused requests; one line per sender and interval, then a count).
-record(state, {host :: binary(), log :: samtek_log:limiter()}).

log_refused(Host, From) ->
    gen_server:cast(gen_mod:get_module_proc(Host, ?MODULE),
                    {refused, jid:encode(jid:remove_resource(From)), jid:encode(From)}).

init([Host, Opts]) ->
    process_flag(trap_exit, true),
    ejabberd_mnesia:create(?MODULE, ?TABLE,
                           [{ram_copies, [node()]},
                            {attributes, record_info(fields, samtek_dnd)}]),
    {ok, #state{host = Host, log = samtek_log:new("dnd request", "DND requests", Opts)}}.

handle_call(_Request, _From, State) -> {reply, {error, badarg}, State}.

handle_cast({refused, Key, Sender}, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:refused(Key, Sender, Log)}};
handle_cast(_Msg, State) -> {noreply, State}.

handle_info(samtek_log_flush, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:flush(Log)}};
handle_info(_Info, State) -> {noreply, State}.

terminate(_Reason, #state{log = Log}) -> samtek_log:flush(Log), ok.

code_change(_OldVsn, State, _Extra) -> {ok, State}.
