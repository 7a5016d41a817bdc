%%% mod_samtek_oof: tells a trusted XMPP component (SAMTEK) when someone writes a chat message
%%% to a user who is out of office, so SAMTEK can send one automatic reply with their OOF text.
%%% The same protocol as deploy/prosody/mod_samtek_oof.lua (urn:samtek:oof:0); see README.md.
%%%
%%% Why a module: a component never sees messages between users.  Only users that SAMTEK
%%% listed as out of office are watched, and SAMTEK is told only who wrote to whom, never the
%%% message text.  The list is a mnesia ram table on every node of a cluster (the sender's
%%% node sees every message to a watched user); SAMTEK re-sends it after every (re)connect.
-module(mod_samtek_oof).
-behaviour(gen_mod).
-behaviour(gen_server).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).
-export([process_iq/1, decode_iq_subel/1, filter_packet/1]).

-include("xmpp.hrl").
-include("logger.hrl").

-define(NS, <<"urn:samtek:oof:0">>).
-define(TABLE, samtek_oof).
-define(MAX_USERS, 100000).

-record(samtek_oof, {us :: {binary(), binary()}, until :: integer()}).  % Unix seconds

start(Host, Opts) ->
    ejabberd_hooks:add(filter_packet, ?MODULE, filter_packet, 60),
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, ?NS, ?MODULE, process_iq),
    gen_mod:start_child(?MODULE, Host, Opts).

stop(Host) ->
    case gen_mod:is_loaded_elsewhere(Host, ?MODULE) of
        true -> ok;
        false -> ejabberd_hooks:delete(filter_packet, ?MODULE, filter_packet, 60)
    end,
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, ?NS),
    gen_mod:stop_child(?MODULE, Host).

reload(_Host, _NewOpts, _OldOpts) -> ok.

depends(_Host, _Opts) -> [].

mod_opt_type(trusted) -> econf:list(econf:jid());
mod_opt_type(log_interval) -> econf:pos_int();
mod_opt_type(log_burst) -> econf:pos_int().

mod_options(_Host) -> [{trusted, []}, {log_interval, 60}, {log_burst, 10}].

mod_doc() ->
    #{desc => [<<"Out-of-office hits for SAMTEK's assistant: who wrote to a user SAMTEK listed "
                 "as out of office (never the text).  See deploy/ejabberd/README.md.">>],
      opts => [{trusted, #{value => "[JID]", desc => <<"Component JIDs told about hits.">>}},
               {log_interval, #{value => "seconds", desc => <<"Log rate window (default 60).">>}},
               {log_burst, #{value => "pos_integer()", desc => <<"Lines per window (10).">>}}]}.

trusted(Host) -> gen_mod:get_module_opt(Host, ?MODULE, trusted).

%% <iq type='set'><oof xmlns='urn:samtek:oof:0'><user jid='…' until='epoch'/>…</oof></iq>
%% replaces the whole list of this host (SAMTEK always sends all of it: no drift).
decode_iq_subel(El) -> El.

process_iq(#iq{from = From, to = #jid{lserver = Host}, type = set, lang = Lang,
               sub_els = [#xmlel{name = <<"oof">>} = El]} = IQ) ->
    case is_trusted(From, Host) of
        false ->
            log_refused(Host, From),
            xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted OOF controller">>, Lang));
        true ->
            Users = lists:sublist(
                      [U || #xmlel{name = <<"user">>} = User <- El#xmlel.children,
                            U <- [parse_user(User, Host)], U /= skip],
                      ?MAX_USERS),
            F = fun() ->
                        Old = mnesia:match_object(#samtek_oof{us = {'_', Host}, _ = '_'}),
                        lists:foreach(fun mnesia:delete_object/1, Old),
                        lists:foreach(fun mnesia:write/1, Users)
                end,
            {atomic, ok} = mnesia:transaction(F),
            ?DEBUG("oof list replaced: ~B user(s)", [length(Users)]),
            xmpp:make_iq_result(IQ)
    end;
process_iq(#iq{from = From, to = #jid{lserver = Host}, lang = Lang} = IQ) ->
    case is_trusted(From, Host) of
        false ->
            log_refused(Host, From),
            xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted OOF controller">>, Lang));
        true ->
            xmpp:make_error(IQ, xmpp:err_bad_request(<<"expected <oof/> in a set">>, Lang))
    end.

parse_user(User, Host) ->
    try
        #jid{luser = U, lserver = Host} = jid:decode(fxml:get_tag_attr_s(<<"jid">>, User)),
        true = U /= <<>>,
        #samtek_oof{us = {U, Host},
                    until = binary_to_integer(fxml:get_tag_attr_s(<<"until">>, User))}
    catch _:_ -> skip  % not a local user, or no number: ignored like the Prosody module
    end.

is_trusted(From, Host) ->
    Bare = jid:tolower(jid:remove_resource(From)),
    lists:member(Bare, [jid:tolower(jid:remove_resource(J)) || J <- trusted(Host)]).

%% A chat message with a body to a watched user: notify the components; never consume it.
filter_packet(#message{type = Type, to = #jid{luser = U, lserver = S} = To,
                       from = #jid{luser = FromUser} = From, body = [_ | _]} = Msg)
  when (Type == chat orelse Type == normal), U /= <<>>, FromUser /= <<>> ->
    case gen_mod:is_loaded(S, ?MODULE) andalso mnesia:dirty_read(?TABLE, {U, S}) of
        [#samtek_oof{until = Until}] ->
            %% Only people write: skip the user herself and anyone on a trusted component.
            Now = erlang:system_time(second),
            Trusted = trusted(S),
            Own = From#jid.luser == U andalso From#jid.lserver == S,
            FromComponent = lists:any(fun(J) -> J#jid.lserver == From#jid.lserver end, Trusted),
            if Until > Now, not Own, not FromComponent ->
                    Hit = #xmlel{name = <<"oof-hit">>,
                                 attrs = [{<<"xmlns">>, ?NS}, {<<"from">>, jid:encode(From)},
                                          {<<"to">>, jid:encode(jid:remove_resource(To))}]},
                    [ejabberd_router:route(#message{from = jid:make(S), to = C, type = normal,
                                                    sub_els = [Hit]}) || C <- Trusted];
               true ->
                    ok
            end;
        _ ->
            ok
    end,
    Msg;
filter_packet(Pkt) ->
    Pkt.

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
                            {attributes, record_info(fields, samtek_oof)}]),
    {ok, #state{host = Host, log = samtek_log:new("oof request", "OOF requests", Opts)}}.

handle_call(_Request, _From, State) -> {reply, {error, badarg}, State}.

handle_cast({refused, Key, Sender}, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:refused(Key, Sender, Log)}};
handle_cast(_Msg, State) -> {noreply, State}.

handle_info(samtek_log_flush, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:flush(Log)}};
handle_info(_Info, State) -> {noreply, State}.

terminate(_Reason, #state{log = Log}) -> samtek_log:flush(Log), ok.

code_change(_OldVsn, State, _Extra) -> {ok, State}.
