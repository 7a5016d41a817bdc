%%% mod_samtek_overlay: lets a trusted XMPP component (SAMTEK) overlay the presence that a
%%% user's CONTACTS see ("dnd / I møte til 11:00") while the user's own devices keep their
%%% real presence.  The same protocol as deploy/prosody/mod_samtek_overlay.lua
%%% (namespace urn:samtek:presence-overlay:0); see README.md next to this file.
%%%
%%% How: every stanza ejabberd routes passes the global `filter_packet` hook, in the process
%%% of the sender's session, one copy per recipient (broadcasts, probe answers and directed
%%% presence alike).  There an available presence from a user with an active overlay, to a
%%% contact or a MUC room, gets the overlay's <show/>/<status/>; her own resources, and anyone
%%% else, get what her client sent.  The session keeps the real presence (pres_last).
%%%
%%% State: a mnesia ram table, replicated to every node of a cluster, so a set through the
%%% component's node applies to sessions on every node.  Every node arms the expiry timers of
%%% every record (mnesia table events); a transaction makes exactly one of them act.  A restart
%%% of the whole cluster forgets every overlay: SAMTEK re-sends them after it reconnects.
%%%
%%% Scheduled overlays (entries with a future `from`) are a second table, one record per
%%% user; every node arms a timer at each user's earliest `from`, and the same kind of
%%% transaction makes one node apply the entry at that instant, without SAMTEK.
-module(mod_samtek_overlay).
-behaviour(gen_mod).
-behaviour(gen_server).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).
-export([process_iq/1, decode_iq_subel/1, filter_packet/1, user_send_packet/1, c2s_handle_info/2,
         c2s_copy_session/2]).

-include("xmpp.hrl").
-include("logger.hrl").
-include("mod_roster.hrl").

-define(NS, <<"urn:samtek:presence-overlay:0">>).
-define(TABLE, samtek_overlay).
-define(PENDING, samtek_overlay_pending).
-define(MAX_TRANSITION, 256).  % characters
-define(MAX_STATUS, 1024).     % characters
-define(MAX_LOG_KEYS, 1000).   % senders remembered per log interval
-define(RESEND, samtek_overlay_resend).
-define(ROOMS, samtek_overlay_rooms).  % key in the c2s state

%% One record per user: an active overlay, or (dismissed = true) the memory that the user
%% dropped this transition by hand, so that a SAMTEK re-send of it is refused until `until`.
-record(samtek_overlay, {us :: {binary(), binary()},
                         show :: available | away | xa | dnd | chat,
                         status :: binary() | undefined,
                         transition :: binary(),
                         until :: integer(),  % Unix milliseconds
                         dismissed = false :: boolean()}).

%% A scheduled overlay: becomes the user's overlay at `from` (Unix milliseconds, as `until`).
-record(sched, {from :: integer() | undefined,
                until :: integer(),
                show :: available | away | xa | dnd | chat,
                status :: binary() | undefined,
                transition :: binary()}).

%% One record per user with pending entries, sorted by `from`.
-record(samtek_overlay_pending, {us :: {binary(), binary()},
                                 entries = [] :: [#sched{}]}).

%%%===================================================================
%%% gen_mod
%%%===================================================================
start(Host, Opts) ->
    %% filter_packet is global: one registration serves every host that loads the module.
    ejabberd_hooks:add(filter_packet, ?MODULE, filter_packet, 50),
    ejabberd_hooks:add(user_send_packet, Host, ?MODULE, user_send_packet, 50),
    ejabberd_hooks:add(c2s_handle_info, Host, ?MODULE, c2s_handle_info, 50),
    ejabberd_hooks:add(c2s_copy_session, Host, ?MODULE, c2s_copy_session, 50),
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, ?NS, ?MODULE, process_iq),
    gen_mod:start_child(?MODULE, Host, Opts).

stop(Host) ->
    case gen_mod:is_loaded_elsewhere(Host, ?MODULE) of
        true -> ok;
        false -> ejabberd_hooks:delete(filter_packet, ?MODULE, filter_packet, 50)
    end,
    ejabberd_hooks:delete(user_send_packet, Host, ?MODULE, user_send_packet, 50),
    ejabberd_hooks:delete(c2s_handle_info, Host, ?MODULE, c2s_handle_info, 50),
    ejabberd_hooks:delete(c2s_copy_session, Host, ?MODULE, c2s_copy_session, 50),
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, ?NS),
    gen_mod:stop_child(?MODULE, Host).

reload(Host, NewOpts, _OldOpts) ->
    gen_server:cast(gen_mod:get_module_proc(Host, ?MODULE), {reload, NewOpts}).

depends(_Host, _Opts) -> [{mod_roster, hard}].

mod_opt_type(trusted) -> econf:list(econf:jid());
mod_opt_type(max_rooms) -> econf:pos_int();
mod_opt_type(log_interval) -> econf:pos_int();
mod_opt_type(log_burst) -> econf:pos_int();
mod_opt_type(max_batch) -> econf:pos_int();
mod_opt_type(max_scheduled) -> econf:pos_int();
mod_opt_type(max_horizon) -> econf:pos_int();
mod_opt_type(max_list) -> econf:pos_int().

mod_options(_Host) ->
    [{trusted, []}, {max_rooms, 100}, {log_interval, 60}, {log_burst, 10}, {max_batch, 500},
     {max_scheduled, 16}, {max_horizon, 86400}, {max_list, 10000}].

mod_doc() ->
    #{desc => [<<"Presence overlay for SAMTEK: a trusted component sets what a user's "
                 "contacts and MUC rooms see; the user's own resources keep their real "
                 "presence.  See deploy/ejabberd/README.md.">>],
      opts => [{trusted, #{value => "[JID]", desc => <<"Component JIDs allowed to set overlays.">>}},
               {max_rooms, #{value => "pos_integer()",
                             desc => <<"Rooms per session that get her presence again when "
                                       "the overlay changes (default 100).">>}},
               {log_interval, #{value => "seconds", desc => <<"Log rate window (default 60).">>}},
               {log_burst, #{value => "pos_integer()",
                             desc => <<"Log lines per window and event kind (default 10).">>}},
               {max_batch, #{value => "pos_integer()",
                             desc => <<"Items per <batch/> (default 500).">>}},
               {max_scheduled, #{value => "pos_integer()",
                                 desc => <<"Pending scheduled overlays per user (default 16).">>}},
               {max_horizon, #{value => "seconds",
                               desc => <<"How far ahead a scheduled `from` may be "
                                         "(default 86400).">>}},
               {max_list, #{value => "pos_integer()",
                            desc => <<"Items per page of a <list max/> answer (whole users; "
                                      "default 10000).">>}}]}.

opt(Host, Name) -> gen_mod:get_module_opt(Host, ?MODULE, Name).

%%%===================================================================
%%% Presence: the filter, manual changes, re-sends
%%%===================================================================

%% Runs in the sender's process for every routed stanza, once per recipient.
filter_packet(#presence{type = available, from = #jid{luser = U, lserver = S} = From,
                        to = #jid{} = To} = Pres) when U /= <<>> ->
    case To of
        #jid{luser = U, lserver = S} -> Pres;  % her own resources see the real presence
        _ ->
            case gen_mod:is_loaded(S, ?MODULE) andalso active(U, S) of
                #samtek_overlay{} = Rec ->
                    case is_room(Pres, S, To) orelse is_contact(From, To) of
                        true -> overlaid(Pres, Rec);
                        false -> Pres  % a stranger gets exactly what she sent
                    end;
                _ -> Pres
            end
    end;
filter_packet(Pkt) ->
    Pkt.

active(U, S) ->
    case mnesia:dirty_read(?TABLE, {U, S}) of
        [#samtek_overlay{dismissed = false} = Rec] -> Rec;
        _ -> none
    end.

is_contact(#jid{luser = U, lserver = S}, To) ->
    {Sub, _, _} = ejabberd_hooks:run_fold(roster_get_jid_info, S, {none, none, []},
                                          [U, S, jid:remove_resource(To)]),
    Sub == both orelse Sub == from.

%% Presence to room/nick: a join carries <x xmlns='…muc'/> (XEP-0045 §7.2.1); to a local MUC
%% service it is a room anyway (e.g. a status change after the join).
is_room(_Pres, _S, #jid{lresource = <<>>}) -> false;
is_room(Pres, S, #jid{lserver = RoomHost}) ->
    xmpp:has_subtag(Pres, #muc{}) orelse lists:member(RoomHost, muc_hosts(S)).

muc_hosts(S) ->
    case gen_mod:is_loaded(S, mod_muc) of
        true -> gen_mod:get_module_opt_hosts(S, mod_muc);
        false -> []
    end.

%% A copy with <show/>/<status/> replaced; every other child (caps, avatar…) is kept.
overlaid(Pres, #samtek_overlay{show = Show, status = Status}) ->
    Pres#presence{show = case Show of available -> undefined; _ -> Show end,
                  status = case Status of undefined -> []; _ -> [#text{data = Status}] end}.

%% Runs in the user's c2s process before ejabberd handles what her client sent.
user_send_packet({#presence{} = Pres, #{jid := JID} = State}) ->
    State1 = track(Pres, JID, State),
    {to_known_room(Pres, JID, State1), State1};
user_send_packet(Acc) ->
    Acc.

track(#presence{to = To, type = Type} = Pres, #jid{luser = U, lserver = S} = JID, State) ->
    Broadcast = To == undefined orelse
        (To#jid.luser == U andalso To#jid.lserver == S andalso To#jid.lresource == <<>>),
    Rooms = maps:get(?ROOMS, State, #{}),
    if Broadcast, Type == available ->
            check_manual_change(Pres, JID, State),
            State;
       Broadcast, Type == unavailable ->
            maps:remove(?ROOMS, State);  % she left every room
       Broadcast ->
            State;
       Type == available ->
            Known = maps:is_key(jid:tolower(jid:remove_resource(To)), Rooms),
            case Known orelse is_room(Pres, S, To) of
                true -> remember_room(To, Rooms, S, State);  % a join, or a nick change
                false -> State
            end;
       Type == unavailable; Type == error ->
            Room = jid:tolower(jid:remove_resource(To)),
            case maps:get(Room, Rooms, none) of
                Occupant when Occupant == To -> State#{?ROOMS => maps:remove(Room, Rooms)};
                _ -> State
            end;
       true ->
            State
    end.

%% Presence to a room the session is in gets the overlay here already: the filter knows a
%% room only by the join's <x/> or a local MUC service, not a room on another server.
to_known_room(#presence{type = available, to = #jid{lresource = Nick} = To} = Pres,
              #jid{luser = U, lserver = S}, State) when Nick /= <<>> ->
    Room = jid:tolower(jid:remove_resource(To)),
    case maps:is_key(Room, maps:get(?ROOMS, State, #{})) andalso active(U, S) of
        #samtek_overlay{} = Rec -> overlaid(Pres, Rec);
        _ -> Pres
    end;
to_known_room(Pres, _JID, _State) ->
    Pres.

%% Rooms per session are bounded: one set/clear/expiry sends resources x (contacts + rooms).
remember_room(To, Rooms, S, State) ->
    Room = jid:tolower(jid:remove_resource(To)),
    Known = maps:is_key(Room, Rooms),
    case Known orelse maps:size(Rooms) < opt(S, max_rooms) of
        true -> State#{?ROOMS => Rooms#{Room => To}};  % a nick change: the new nick
        false -> State
    end.

%% A real change of show/status while an overlay is active means the user overrides it.  A
%% resource's initial presence does not (no pres_last yet), nor does the same show/status.
check_manual_change(Pres, #jid{luser = U, lserver = S, lresource = R}, State) ->
    case maps:get(pres_last, State, undefined) of
        undefined -> ok;
        Prev ->
            Same = {Prev#presence.show, xmpp:get_text(Prev#presence.status)} ==
                {Pres#presence.show, xmpp:get_text(Pres#presence.status)},
            case Same orelse active(U, S) of
                #samtek_overlay{} = Rec -> dismiss(U, S, R, Rec, Pres);
                _ -> ok
            end
    end.

dismiss(U, S, R, Rec, Pres) ->
    F = fun() ->
                case mnesia:read(?TABLE, {U, S}, write) of
                    [Rec] -> mnesia:write(Rec#samtek_overlay{dismissed = true});
                    _ -> changed
                end
        end,
    case mnesia:transaction(F) of
        {atomic, ok} ->
            Bare = jid:encode(jid:make(U, S)),
            log(S, dismissed, Bare, "~ts dismissed overlay ~ts by hand",
                [Bare, Rec#samtek_overlay.transition]),
            notify_dismissed(S, Bare, Rec, Pres),
            %% Her new presence flows unmodified; the other resources must re-send their
            %% real presence, contacts still see them overlaid.
            rebroadcast(U, S, R);
        _ ->
            ok  % a set/clear/expiry came first: nothing left to dismiss
    end.

%% Tell every trusted component that the user overrode the overlay by hand.
notify_dismissed(S, Bare, #samtek_overlay{transition = Transition}, Pres) ->
    Show = case Pres#presence.show of undefined -> <<"available">>; V -> atom_to_binary(V) end,
    Children = case xmpp:get_text(Pres#presence.status) of
                   <<>> -> [];
                   Text -> [#xmlel{name = <<"status">>, children = [{xmlcdata, Text}]}]
               end,
    El = #xmlel{name = <<"dismissed">>,
                attrs = [{<<"xmlns">>, ?NS}, {<<"jid">>, Bare}, {<<"transition">>, Transition},
                         {<<"show">>, Show}],
                children = Children},
    [ejabberd_router:route(#message{from = jid:make(S), to = Component, sub_els = [El]})
     || Component <- opt(S, trusted)],
    ok.

%% Ask every session of the user (on any node) except resource `Except` to send its stored
%% presence again to her contacts and rooms; the filter applies the overlay if one is active.
rebroadcast(U, S, Except) ->
    lists:foreach(
      fun(R) when R == Except -> ok;
         (R) ->
              case ejabberd_sm:get_session_pid(U, S, R) of
                  Pid when is_pid(Pid) -> ejabberd_cluster:send(Pid, ?RESEND);
                  _ -> ok
              end
      end, ejabberd_sm:get_user_resources(U, S)).

%% A resumed stream (XEP-0198) continues in a new process: keep the rooms it is in.
c2s_copy_session(State, #{?ROOMS := Rooms}) -> State#{?ROOMS => Rooms};
c2s_copy_session(State, _OldState) -> State.

c2s_handle_info(State, ?RESEND) ->
    {stop, resend(State)};
c2s_handle_info(State, _) ->
    State.

%% In the session's process: its real presence to every contact subscribed to her and to the
%% rooms it is in (which would otherwise keep a stale overlay), never to other targets.
resend(#{pres_last := Pres, jid := JID, pres_a := PresA} = State) ->
    #jid{luser = U, lserver = S} = JID,
    Items = ejabberd_hooks:run_fold(roster_get, S, [], [{U, S}]),
    Contacts = [Item#roster_item.jid || Item <- Items,
                                        Item#roster_item.subscription == both orelse
                                            Item#roster_item.subscription == from],
    Rooms = maps:get(?ROOMS, State, #{}),
    %% ejabberd forgets a room she left (pres_a): so do we.
    Joined = maps:filter(fun(_, Occupant) ->
                                 gb_sets:is_element(jid:tolower(Occupant), PresA)
                         end, Rooms),
    State1 = State#{?ROOMS => Joined},
    lists:foreach(
      fun(To) ->
              P = to_known_room(xmpp:set_from_to(Pres, JID, To), JID, State1),
              case ejabberd_hooks:run_fold(privacy_check_packet, S, allow, [State, P, out]) of
                  allow -> ejabberd_router:route(P);
                  deny -> ok
              end
      end, Contacts ++ maps:values(Joined)),
    State1;
resend(State) ->
    State.  % no available presence yet: contacts see her offline anyway

%%%===================================================================
%%% IQ API for the trusted component
%%%===================================================================
%% gen_iq_handler would decode the request with the xmpp codecs, which know no SAMTEK
%% namespace: keep the raw element.
decode_iq_subel(El) -> El.

process_iq(#iq{from = From, to = #jid{lserver = Host}, type = Type, lang = Lang,
               sub_els = [#xmlel{name = Name} = El]} = IQ) ->
    Trusted = [jid:tolower(jid:remove_resource(J)) || J <- opt(Host, trusted)],
    case lists:member(jid:tolower(jid:remove_resource(From)), Trusted) of
        false ->
            Sender = jid:encode(jid:remove_resource(From)),
            log(Host, refused, Sender, "overlay request from untrusted ~ts refused",
                [jid:encode(From)]),
            xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted overlay controller">>, Lang));
        true ->
            try handle(Type, Name, El, Host) of
                ok -> xmpp:make_iq_result(IQ);
                {ok, Payload} -> xmpp:make_iq_result(IQ, Payload)
            catch throw:{bad_request, Text} ->
                    xmpp:make_error(IQ, xmpp:err_bad_request(Text, Lang));
                  throw:{item_not_found, Text} ->
                    xmpp:make_error(IQ, xmpp:err_item_not_found(Text, Lang));
                  throw:{policy_violation, Text} ->
                    xmpp:make_error(IQ, xmpp:err_policy_violation(Text, Lang));
                  throw:feature_not_implemented ->
                    xmpp:make_error(IQ, xmpp:err_feature_not_implemented(
                                          <<"expected set, clear, schedule, batch or list">>,
                                          Lang))
            end
    end;
process_iq(#iq{lang = Lang} = IQ) ->
    xmpp:make_error(IQ, xmpp:err_bad_request(<<"one request element expected">>, Lang)).

handle(set, <<"batch">>, El, Host) ->
    %% Items applied in order, each on its own (as if sent alone); one result per item.
    Items = [C || #xmlel{} = C <- El#xmlel.children, in_ns(C)],
    Max = opt(Host, max_batch),
    length(Items) =< Max orelse
        throw({bad_request, <<"at most ", (integer_to_binary(Max))/binary, " items per batch">>}),
    {ok, #xmlel{name = <<"batch">>, attrs = [{<<"xmlns">>, ?NS}],
                children = [batch_item(C, Host) || C <- Items]}};
handle(set, Name, El, Host) when Name == <<"set">>; Name == <<"clear">>;
                                 Name == <<"schedule">> ->
    case operation(Name, El, Host) of
        ok -> ok;
        dismissed -> {ok, #xmlel{name = <<"dismissed">>, attrs = [{<<"xmlns">>, ?NS}]}}
    end;
handle(get, <<"list">>, El, Host) ->
    Recs = mnesia:dirty_select(?TABLE, [{#samtek_overlay{us = {'_', Host}, _ = '_'}, [], ['$_']}]),
    Pending = mnesia:dirty_select(?PENDING, [{#samtek_overlay_pending{us = {'_', Host}, _ = '_'},
                                              [], ['$_']}]),
    Active = maps:from_list([{U, R} || #samtek_overlay{us = U} = R <- Recs]),
    Later = maps:from_list([{U, Es} || #samtek_overlay_pending{us = U, entries = Es} <- Pending]),
    %% In bare-JID order (bytes, as the client compares `last` and `after`).
    After = fxml:get_tag_attr_s(<<"after">>, El),
    Keys = maps:keys(maps:merge(Active, Later)),
    Users = [User || {Bare, _} = User <- lists:usort([{bare(US), US} || US <- Keys]),
                     After == <<>> orelse Bare > After],
    {Page, Last} = page(Users, page_max(fxml:get_tag_attr_s(<<"max">>, El), Host), Active, Later),
    %% Per user: the overlay (or dismissal), then the pending entries in `from` order.
    Items = lists:flatmap(
              fun({_, US}) ->
                      [list_item(R) || R <- [maps:get(US, Active, none)], R /= none] ++
                          [scheduled_item(US, E) || E <- maps:get(US, Later, [])]
              end, Page),
    LastAttr = case Last of none -> []; _ -> [{<<"last">>, Last}] end,
    {ok, #xmlel{name = <<"list">>, attrs = [{<<"xmlns">>, ?NS} | LastAttr], children = Items}};
handle(_, _, _, _) ->
    throw(feature_not_implemented).

bare({U, S}) -> jid:encode(jid:make(U, S)).

%% <list max='N'/>: capped by max_list; without `max` (a client that predates pages), or
%% with one that is not a number, everything in one answer.
page_max(<<>>, _Host) -> all;
page_max(Bin, Host) ->
    try binary_to_integer(Bin) of
        N -> max(1, min(N, opt(Host, max_list)))
    catch error:badarg -> all
    end.

%% {users of the page, the bare JID of its last user when more follow, else none}: whole
%% users, up to the one whose items (overlay or dismissal, scheduled entries) reach Max.
page(Users, all, _Active, _Later) -> {Users, none};
page(Users, Max, Active, Later) -> page(Users, Max, Active, Later, 0, []).

page([], _Max, _Active, _Later, _Items, Acc) -> {lists:reverse(Acc), none};
page([_] = Final, _Max, _Active, _Later, _Items, Acc) -> {lists:reverse(Acc, Final), none};
page([{Bare, US} = User | More], Max, Active, Later, Items, Acc) ->
    N = Items + length(maps:get(US, Later, [])) + case maps:is_key(US, Active) of
                                                      true -> 1;
                                                      false -> 0
                                                  end,
    case N >= Max of
        true -> {lists:reverse(Acc, [User]), Bare};
        false -> page(More, Max, Active, Later, N, [User | Acc])
    end.

batch_item(#xmlel{name = Name} = C, Host) ->
    try operation(Name, C, Host) of
        Result -> #xmlel{name = atom_to_binary(Result)}  % ok | dismissed
    catch throw:{Condition, Text} ->
            #xmlel{name = <<"refused">>, attrs = [{<<"condition">>, condition(Condition)}],
                   children = [{xmlcdata, Text}]}
    end.

condition(bad_request) -> <<"bad-request">>;
condition(item_not_found) -> <<"item-not-found">>;
condition(policy_violation) -> <<"policy-violation">>.

%% set and clear, alone or as a batch item: ok | dismissed, or throws {Condition, Text}.
operation(<<"set">>, El, Host) ->
    {U, S} = local_user(fxml:get_tag_attr_s(<<"jid">>, El), Host),
    Now = now_ms(),
    case read_entry(El, Now, S) of
        #sched{from = From} = E when is_integer(From), From > Now -> schedule_one(U, S, E);
        E -> set_now(U, S, E)  % no `from`, or one already past (sent late): applies at once
    end;
operation(<<"clear">>, El, Host) ->
    {U, S} = local_user(fxml:get_tag_attr_s(<<"jid">>, El), Host),
    %% A dismissal memory is kept: a later re-send of that transition stays refused.
    F = fun() ->
                case mnesia:read(?TABLE, {U, S}, write) of
                    [#samtek_overlay{dismissed = false}] -> mnesia:delete({?TABLE, {U, S}});
                    _ -> none
                end
        end,
    case mnesia:transaction(F) of
        {atomic, ok} -> rebroadcast(U, S, none), ok;
        {atomic, none} -> ok
    end;
operation(<<"schedule">>, El, Host) ->
    %% Replaces all of the user's pending entries (none cancels them).  All or nothing:
    %% every entry is checked before anything changes.
    {U, S} = local_user(fxml:get_tag_attr_s(<<"jid">>, El), Host),
    Now = now_ms(),
    Max = opt(S, max_scheduled),
    Children = [C || #xmlel{name = <<"entry">>} = C <- El#xmlel.children, in_ns(C)],
    Entries = lists:foldl(
                fun(_, Acc) when length(Acc) >= Max -> throw(too_many(Max));
                   (C, Acc) ->
                        case read_entry(C, Now, S) of
                            #sched{from = undefined} ->
                                throw({bad_request, <<"a schedule entry needs from">>});
                            E -> [E | Acc]
                        end
                end, [], Children),
    Sorted = lists:keysort(#sched.from, lists:reverse(Entries)),
    {atomic, ok} = mnesia:transaction(fun() -> write_pending({U, S}, Sorted) end),
    advance({U, S}),  % an entry whose `from` has just passed applies now
    ok;
operation(Name, _El, _Host) ->
    throw({bad_request, <<"unknown batch item ", Name/binary>>}).

%% An overlay from now on: replaces the active one, unless she dismissed this transition.
set_now(U, S, #sched{show = Show, status = Status, transition = Transition, until = Until}) ->
    New = #samtek_overlay{us = {U, S}, show = Show, status = Status, transition = Transition,
                          until = Until},
    F = fun() ->
                case mnesia:read(?TABLE, {U, S}, write) of
                    [#samtek_overlay{dismissed = true, transition = Transition}] ->
                        dismissed;  % the user already overrode this transition: her choice wins
                    [New] ->
                        same;  % SAMTEK re-asserting after its restart: contacts already see it
                    _ ->
                        mnesia:write(New)  % replaces the overlay and any dismissal memory
                end
        end,
    case mnesia:transaction(F) of
        {atomic, dismissed} -> dismissed;
        {atomic, same} -> ok;
        {atomic, ok} -> rebroadcast(U, S, none), ok
    end.

%% A set with a future `from`: replaces a pending entry of the same transition, else is added.
schedule_one(U, S, #sched{transition = Transition} = E) ->
    Max = opt(S, max_scheduled),
    F = fun() ->
                Rest = [X || #sched{transition = T} = X <- pending_of({U, S}), T /= Transition],
                case length(Rest) >= Max of
                    true -> full;
                    false -> write_pending({U, S}, lists:keysort(#sched.from, [E | Rest]))
                end
        end,
    case mnesia:transaction(F) of
        {atomic, ok} -> ok;
        {atomic, full} -> throw(too_many(Max))
    end.

too_many(Max) ->
    {policy_violation, <<"at most ", (integer_to_binary(Max))/binary,
                         " scheduled overlays per user">>}.

%% In a transaction.
pending_of(Key) ->
    case mnesia:read(?PENDING, Key, write) of
        [#samtek_overlay_pending{entries = Entries}] -> Entries;
        [] -> []
    end.

write_pending(Key, []) -> mnesia:delete({?PENDING, Key});
write_pending(Key, Entries) -> mnesia:write(#samtek_overlay_pending{us = Key, entries = Entries}).

%% show/status/transition/from/until of a <set/> or schedule <entry/>; throws on errors.
read_entry(El, Now, Host) ->
    Show = show(fxml:get_tag_attr_s(<<"show">>, El)),
    Transition = fxml:get_tag_attr_s(<<"transition">>, El),
    case chars(Transition) of
        N when N >= 1, N =< ?MAX_TRANSITION -> ok;
        _ -> throw({bad_request, <<"transition must be 1..256 characters">>})
    end,
    Until = parse_time(fxml:get_tag_attr_s(<<"until">>, El), <<"until">>),
    Until > Now orelse throw({bad_request, <<"until is in the past">>}),
    From = case fxml:get_tag_attr(<<"from">>, El) of
               false -> undefined;
               {value, Bin} ->
                   F = parse_time(Bin, <<"from">>),
                   F < Until orelse throw({bad_request, <<"from must be before until">>}),
                   Horizon = opt(Host, max_horizon),
                   F =< Now + Horizon * 1000 orelse
                       throw({policy_violation, <<"from is more than ",
                                                  (integer_to_binary(Horizon))/binary,
                                                  " s ahead">>}),
                   F
           end,
    Status = case fxml:get_subtag(El, <<"status">>) of
                 false -> undefined;
                 StatusEl -> fxml:get_tag_cdata(StatusEl)
             end,
    Status /= undefined andalso chars(Status) > ?MAX_STATUS
        andalso throw({bad_request, <<"status too long">>}),
    #sched{from = From, until = Until, show = Show, status = Status, transition = Transition}.

in_ns(C) -> lists:member(fxml:get_tag_attr_s(<<"xmlns">>, C), [<<>>, ?NS]).

now_ms() -> erlang:system_time(millisecond).

list_item(#samtek_overlay{us = {U, S}, transition = T, until = Until} = Rec) ->
    Attrs = [{<<"jid">>, jid:encode(jid:make(U, S))}, {<<"transition">>, T},
             {<<"until">>, format_time(Until)}],
    case Rec of
        #samtek_overlay{dismissed = true} ->
            #xmlel{name = <<"dismissed">>, attrs = Attrs};
        #samtek_overlay{show = Show, status = Status} ->
            #xmlel{name = <<"overlay">>,
                   attrs = [{<<"show">>, atom_to_binary(Show)} | Attrs],
                   children = status_el(Status)}
    end.

scheduled_item({U, S}, #sched{show = Show, status = Status, transition = T, from = From,
                             until = Until}) ->
    #xmlel{name = <<"scheduled">>,
           attrs = [{<<"jid">>, jid:encode(jid:make(U, S))}, {<<"show">>, atom_to_binary(Show)},
                    {<<"transition">>, T}, {<<"from">>, format_time(From)},
                    {<<"until">>, format_time(Until)}],
           children = status_el(Status)}.

status_el(undefined) -> [];
status_el(Status) -> [#xmlel{name = <<"status">>, children = [{xmlcdata, Status}]}].

%% The bare JID of a local user.  Only offline users cost an authentication back-end read.
local_user(<<>>, _Host) ->
    throw({bad_request, <<"missing jid">>});
local_user(Bin, Host) ->
    case jid:decode(Bin) of
        #jid{luser = U, lserver = Host, lresource = <<>>} when U /= <<>> ->
            case ejabberd_sm:get_user_resources(U, Host) /= [] orelse
                ejabberd_auth:user_exists(U, Host) of
                true -> {U, Host};
                false -> throw({item_not_found, <<"no such user">>})
            end;
        _ ->
            throw({bad_request, <<"jid must be a bare JID of ", Host/binary>>})
    end.

show(<<"available">>) -> available;
show(<<"away">>) -> away;
show(<<"xa">>) -> xa;
show(<<"dnd">>) -> dnd;
show(<<"chat">>) -> chat;
show(_) -> throw({bad_request, <<"show must be available, away, xa, dnd or chat">>}).

%% Length in characters; invalid UTF-8 cannot come out of the XML parser.
chars(Bin) ->
    case unicode:characters_to_list(Bin) of
        L when is_list(L) -> length(L);
        _ -> throw({bad_request, <<"invalid UTF-8">>})
    end.

%% Milliseconds are kept: scheduled overlays meet exactly at their boundaries.
parse_time(Bin, Name) ->
    try calendar:rfc3339_to_system_time(binary_to_list(Bin), [{unit, millisecond}])
    catch _:_ -> throw({bad_request, <<Name/binary, " must be an ISO-8601 UTC timestamp">>})
    end.

%% With milliseconds only when there are any, as on Prosody.
format_time(Ms) when Ms rem 1000 == 0 ->
    list_to_binary(calendar:system_time_to_rfc3339(Ms div 1000, [{offset, "Z"}]));
format_time(Ms) ->
    list_to_binary(calendar:system_time_to_rfc3339(Ms, [{unit, millisecond}, {offset, "Z"}])).

%%%===================================================================
%%% Per-host process: expiry timers and the rate-limited log
%%%===================================================================
-record(state, {host :: binary(), interval :: pos_integer(), burst :: pos_integer(),
                limiters = #{} :: #{atom() => map()},
                %% user -> the timer at her earliest pending `from`
                starts = #{} :: #{{binary(), binary()} => reference()}}).

init([Host, Opts]) ->
    process_flag(trap_exit, true),  % terminate/2 logs the counts still pending
    ejabberd_mnesia:create(?MODULE, ?TABLE,
                           [{ram_copies, [node()]},
                            {attributes, record_info(fields, samtek_overlay)}]),
    ejabberd_mnesia:create(?MODULE, ?PENDING,
                           [{ram_copies, [node()]},
                            {attributes, record_info(fields, samtek_overlay_pending)}]),
    {ok, _} = mnesia:subscribe({table, ?TABLE, simple}),
    {ok, _} = mnesia:subscribe({table, ?PENDING, simple}),
    %% Records written before this process started (another node, a module restart).
    lists:foreach(fun(Rec) -> arm(Host, Rec) end,
                  mnesia:dirty_match_object(#samtek_overlay{_ = '_'})),
    State = lists:foldl(fun arm_start/2, configure(#state{host = Host}, Opts),
                        mnesia:dirty_match_object(#samtek_overlay_pending{_ = '_'})),
    {ok, State}.

configure(State, Opts) ->
    State#state{interval = gen_mod:get_opt(log_interval, Opts),
                burst = gen_mod:get_opt(log_burst, Opts)}.

handle_call(_Request, _From, State) ->
    {reply, {error, badarg}, State}.

handle_cast({log, Kind, Key, Fmt, Args}, State) ->
    {noreply, limited_log(Kind, Key, Fmt, Args, State)};
handle_cast({reload, Opts}, State) ->
    {noreply, configure(State, Opts)};
handle_cast(_Msg, State) ->
    {noreply, State}.

handle_info({mnesia_table_event, {write, #samtek_overlay{} = Rec, _}}, #state{host = H} = State) ->
    arm(H, Rec),
    {noreply, State};
handle_info({mnesia_table_event, {write, #samtek_overlay_pending{} = Rec, _}}, State) ->
    {noreply, arm_start(Rec, State)};
handle_info({mnesia_table_event, {delete, {?PENDING, Key}, _}}, #state{starts = T} = State) ->
    cancel(maps:get(Key, T, none)),
    {noreply, State#state{starts = maps:remove(Key, T)}};
handle_info({advance, Key}, State) ->
    advance(Key),
    {noreply, State};
handle_info({flush, Kind}, State) ->
    {noreply, flush(Kind, State)};
handle_info(_Info, State) ->
    {noreply, State}.

terminate(_Reason, #state{limiters = Limiters} = State) ->
    _ = mnesia:unsubscribe({table, ?TABLE, simple}),
    _ = mnesia:unsubscribe({table, ?PENDING, simple}),
    lists:foldl(fun(Kind, Acc) -> flush(Kind, Acc) end, State, maps:keys(Limiters)),
    ok.

code_change(_OldVsn, State, _Extra) ->
    {ok, State}.

arm(Host, #samtek_overlay{us = {_, Host} = Key, until = Until}) ->
    erlang:send_after(max(0, Until - now_ms()), self(), {advance, Key}),
    ok;
arm(_OtherHost, _Rec) ->
    ok.

%% One timer per user, at her earliest pending `from`; a rewrite of her entries replaces it.
arm_start(#samtek_overlay_pending{us = {_, Host} = Key, entries = [#sched{from = From} | _]},
          #state{host = Host, starts = T} = State) ->
    cancel(maps:get(Key, T, none)),
    Ref = erlang:send_after(max(0, From - now_ms()), self(), {advance, Key}),
    State#state{starts = T#{Key => Ref}};
arm_start(_OtherHostOrEmpty, State) ->
    State.

%% Bring a user to what is due now, by the server itself (a crashed SAMTEK never leaves a
%% stale overlay, and a boundary needs nothing from it): expire the overlay at its `until`,
%% and apply the latest pending entry whose `from` has come, unless she dismissed that very
%% transition.  One re-broadcast at most, also when an expiry and the next start fall on the
%% same instant.  Every node gets here; the transaction makes only one of them act.
advance({U, S} = Key) ->
    F = fun() ->
                Now = now_ms(),
                {Started, Rest} = lists:splitwith(fun(#sched{from = From}) -> From =< Now end,
                                                  pending_of(Key)),
                case Started of
                    [] -> ok;
                    _ -> write_pending(Key, Rest)
                end,
                {Rec, Ended} = case mnesia:read(?TABLE, Key, write) of
                                   [#samtek_overlay{until = Until, dismissed = D}]
                                     when Until =< Now ->
                                       mnesia:delete({?TABLE, Key}),
                                       {none, not D};
                                   [R] -> {R, false};
                                   [] -> {none, false}
                               end,
                case [E || #sched{until = Until} = E <- Started, Until > Now] of
                    [] ->
                        {Ended, none};
                    Due ->
                        install(Key, Rec, lists:last(Due), Ended)
                end
        end,
    case mnesia:transaction(F) of
        {atomic, {Changed, Skipped}} ->
            Bare = jid:encode(jid:make(U, S)),
            Skipped == none orelse
                log(S, dismissed, Bare,
                    "scheduled overlay ~ts of ~ts not applied: dismissed by hand",
                    [Skipped, Bare]),
            Changed andalso rebroadcast(U, S, none),
            ok;
        {aborted, Reason} ->
            ?ERROR_MSG("scheduled overlays of ~ts not advanced: ~p",
                       [jid:encode(jid:make(U, S)), Reason])
    end.

%% In advance's transaction: {contacts must get her presence again, skipped transition}.
install(_Key, #samtek_overlay{dismissed = true, transition = T}, #sched{transition = T}, Ended) ->
    {Ended, T};
install(Key, Rec, #sched{show = Show, status = Status, transition = T, until = Until}, Ended) ->
    mnesia:write(#samtek_overlay{us = Key, show = Show, status = Status, transition = T,
                                 until = Until}),
    %% The same overlay with only a new `until` (a late set re-scheduled): nothing to send.
    Same = case Rec of
               #samtek_overlay{dismissed = false, transition = T, show = Show,
                               status = Status} -> true;
               _ -> false
           end,
    {Ended orelse not Same, none}.

%% Refusals are logged rate-limited: any account can send thousands of them.  Per interval:
%% the first event of each key (sender), at most `burst` lines, and one summary line with
%% the count of what was left out.  At most ?MAX_LOG_KEYS keys are remembered.
log(Host, Kind, Key, Fmt, Args) ->
    gen_server:cast(gen_mod:get_module_proc(Host, ?MODULE), {log, Kind, Key, Fmt, Args}).

limited_log(Kind, Key, Fmt, Args, #state{limiters = Ls, burst = Burst} = State) ->
    L = maps:get(Kind, Ls, #{lines => 0, keys => #{}, suppressed => 0, timer => none}),
    #{lines := Lines, keys := Keys, suppressed := Suppressed} = L,
    Seen = maps:is_key(Key, Keys),
    Keys1 = case Seen orelse maps:size(Keys) >= ?MAX_LOG_KEYS of
                true -> Keys;
                false -> Keys#{Key => true}
            end,
    L1 = case maps:get(timer, L) of
             none ->  % the window starts now; its summary comes even if nothing else happens
                 L#{timer => erlang:send_after(State#state.interval * 1000, self(), {flush, Kind})};
             _ -> L
         end,
    L2 = case not Seen andalso Lines < Burst of
             true ->
                 emit(Kind, Fmt, Args),
                 L1#{lines => Lines + 1, keys => Keys1};
             false ->
                 L1#{suppressed => Suppressed + 1, keys => Keys1}
         end,
    State#state{limiters = Ls#{Kind => L2}}.

flush(Kind, #state{limiters = Ls, interval = Interval} = State) ->
    case maps:get(Kind, Ls, none) of
        #{suppressed := N, keys := Keys, timer := Timer} when N > 0 ->
            cancel(Timer),
            More = case maps:size(Keys) >= ?MAX_LOG_KEYS of true -> "+"; false -> "" end,
            emit(Kind, "~B more ~ts not logged (interval ~Bs, ~B~ts sender(s))",
                 [N, what(Kind), Interval, maps:size(Keys), More]);
        #{timer := Timer} ->
            cancel(Timer);
        none ->
            ok
    end,
    State#state{limiters = maps:remove(Kind, Ls)}.

cancel(none) -> ok;
cancel(Ref) -> erlang:cancel_timer(Ref), ok.

what(refused) -> "refused overlay requests";
what(dismissed) -> "dismissals".

emit(refused, Fmt, Args) -> ?WARNING_MSG(Fmt, Args);
emit(dismissed, Fmt, Args) -> ?INFO_MSG(Fmt, Args).
