%%% mod_samtek_deliver: at-least-once delivery of SAMTEK's chat messages, shown once.
%%% The same protocol as deploy/prosody/mod_samtek_deliver.lua (urn:samtek:deliver:0):
%%%
%%%   <iq type="set" to="region.test"><deliver xmlns="urn:samtek:deliver:0" id="…">
%%%     <message xmlns="jabber:client" to="kari@region.test" type="chat"><body>…</body></message>
%%%   </deliver></iq>
%%%
%%% Why: XEP-0114 component streams have no stream management; a message written into a
%%% stream that dies a moment later is lost.  The module answers the IQ only after it has
%%% routed the message (ejabberd_router:route, in the IQ handler's process: the user's
%%% sessions, offline storage and MAM see it like any message).  SAMTEK re-sends until it has
%%% the answer, with the same id; ids are remembered per component (bounded in count and
%%% time) and a repeat is answered without routing it again, so the user sees it once.
%%%
%%% Groupchat is refused with feature-not-implemented and <groupchat-unsupported/>: ejabberd's
%%% rooms let a service admin post only as the room itself without a nick (XEP-0045 §7.9),
%%% not under SAMTEK's nick as the Prosody module does.  SAMTEK then posts that one message
%%% by entering the room, posting and leaving (samtek/xmpp/delivery.py).  See README.md.
-module(mod_samtek_deliver).
-behaviour(gen_mod).
-behaviour(gen_server).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).
-export([process_iq/1, decode_iq_subel/1]).

-include("xmpp.hrl").
-include("logger.hrl").

-define(NS, <<"urn:samtek:deliver:0">>).
-define(MAX_ID, 128).       % characters
-define(MAX_BODY, 16384).   % bytes

start(Host, Opts) ->
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, ?NS, ?MODULE, process_iq),
    gen_mod:start_child(?MODULE, Host, Opts).

stop(Host) ->
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, ?NS),
    gen_mod:stop_child(?MODULE, Host).

reload(_Host, _NewOpts, _OldOpts) -> ok.

depends(_Host, _Opts) -> [].

mod_opt_type(trusted) -> econf:list(econf:jid());
mod_opt_type(remember) -> econf:pos_int();
mod_opt_type(max_ids) -> econf:pos_int();
mod_opt_type(log_interval) -> econf:pos_int();
mod_opt_type(log_burst) -> econf:pos_int().

mod_options(_Host) ->
    [{trusted, []}, {remember, 86400}, {max_ids, 100000}, {log_interval, 60}, {log_burst, 10}].

mod_doc() ->
    #{desc => [<<"At-least-once delivery of SAMTEK's chat messages, shown once "
                 "(urn:samtek:deliver:0).  See deploy/ejabberd/README.md.">>],
      opts => [{trusted, #{value => "[JID]", desc => <<"Component JIDs allowed to deliver.">>}},
               {remember, #{value => "seconds", desc => <<"How long ids are kept (86400).">>}},
               {max_ids, #{value => "pos_integer()",
                           desc => <<"Ids kept per component (100000).">>}},
               {log_interval, #{value => "seconds", desc => <<"Log rate window (default 60).">>}},
               {log_burst, #{value => "pos_integer()", desc => <<"Lines per window (10).">>}}]}.

trusted(Host) -> gen_mod:get_module_opt(Host, ?MODULE, trusted).

decode_iq_subel(El) -> El.

process_iq(#iq{from = From, to = #jid{lserver = Host}, type = set, lang = Lang,
               sub_els = [#xmlel{name = <<"deliver">>} = El]} = IQ) ->
    case is_trusted(From, Host) of
        false -> refuse_untrusted(IQ, Host);
        true -> deliver(IQ, El, Host, Lang)
    end;
process_iq(#iq{from = From, to = #jid{lserver = Host}, lang = Lang} = IQ) ->
    case is_trusted(From, Host) of
        false -> refuse_untrusted(IQ, Host);
        true -> xmpp:make_error(IQ, xmpp:err_bad_request(<<"expected <deliver/> in a set">>, Lang))
    end.

refuse_untrusted(#iq{from = From, lang = Lang} = IQ, Host) ->
    log_refused(Host, From),
    xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted SAMTEK component">>, Lang)).

is_trusted(From, Host) ->
    Bare = jid:tolower(jid:remove_resource(From)),
    lists:member(Bare, [jid:tolower(jid:remove_resource(J)) || J <- trusted(Host)]).

deliver(#iq{from = From} = IQ, El, Host, Lang) ->
    Id = fxml:get_tag_attr_s(<<"id">>, El),
    IdLen = string:length(Id),
    case message(El) of
        {ok, #message{} = Msg} when IdLen > 0, IdLen =< ?MAX_ID ->
            BodyBytes = lists:sum([byte_size(T) || #text{data = T} <- Msg#message.body]),
            if BodyBytes > ?MAX_BODY ->
                    xmpp:make_error(IQ, xmpp:err_not_acceptable(<<"body too long">>, Lang));
               Msg#message.type == groupchat ->
                    Err = xmpp:err_feature_not_implemented(
                            <<"groupchat is posted by entering the room">>, Lang),
                    Why = #xmlel{name = <<"groupchat-unsupported">>,
                                 attrs = [{<<"xmlns">>, ?NS}]},
                    xmpp:make_error(IQ, Err#stanza_error{sub_els = [Why]});
               true ->
                    Component = jid:remove_resource(From),
                    case claim(Host, jid:encode(jid:tolower(Component)), Id) of
                        new -> ejabberd_router:route(outgoing(Msg, From, Component));
                        seen -> ok  % a re-send after a lost answer: already routed
                    end,
                    xmpp:make_iq_result(IQ)
            end;
        _ ->
            Text = iolist_to_binary(
                     io_lib:format("need an id (1..~B) and a <message/> with a valid 'to'",
                                   [?MAX_ID])),
            xmpp:make_error(IQ, xmpp:err_bad_request(Text, Lang))
    end.

%% The <message/> inside <deliver/>, decoded (its elements stay raw); error if it has no
%% valid 'to'.
message(El) ->
    case [C || #xmlel{name = <<"message">>} = C <- El#xmlel.children,
               fxml:get_tag_attr_s(<<"xmlns">>, C) == ?NS_CLIENT] of
        [MsgEl | _] ->
            try xmpp:decode(MsgEl, ?NS_CLIENT, [ignore_els]) of
                #message{to = #jid{}} = Msg -> {ok, Msg};
                _ -> error
            catch _:_ -> error  % an invalid JID or type: hostile input, refused
            end;
        [] ->
            error
    end.

%% The component may speak as itself or one of its resources, nobody else.
outgoing(#message{from = MsgFrom} = Msg, From, Component) ->
    Own = MsgFrom /= undefined andalso
              jid:tolower(jid:remove_resource(MsgFrom)) == jid:tolower(Component),
    Msg#message{from = case Own of true -> MsgFrom; false -> From end}.

claim(Host, Component, Id) ->
    gen_server:call(gen_mod:get_module_proc(Host, ?MODULE), {claim, Component, Id}).

log_refused(Host, From) ->
    gen_server:cast(gen_mod:get_module_proc(Host, ?MODULE),
                    {refused, jid:encode(jid:remove_resource(From)), jid:encode(From)}).

%%% Per-host process: the delivered ids (serialised here, so two copies of one request in
%%% flight cannot both be routed) and the rate-limited refusal log (any account can send
%%% thousands of refused requests; one line per sender and interval, then a count).
%%% Ids live in this node's memory: a restart forgets them, like Prosody's module.
-record(state, {host :: binary(), remember :: pos_integer(), max_ids :: pos_integer(),
                %% component -> {queue of {Id, Millis}, oldest first; #{Id => Millis}}
                seen = #{} :: map(),
                log :: samtek_log:limiter()}).

init([Host, Opts]) ->
    process_flag(trap_exit, true),
    {ok, #state{host = Host, remember = gen_mod:get_opt(remember, Opts),
                max_ids = gen_mod:get_opt(max_ids, Opts),
                log = samtek_log:new("delivery request", "delivery requests", Opts)}}.

handle_call({claim, Component, Id}, _From, #state{seen = Seen} = State) ->
    Now = erlang:monotonic_time(millisecond),
    {Queue, Ids} = forget_old(maps:get(Component, Seen, {queue:new(), #{}}), Now, State),
    case maps:is_key(Id, Ids) of
        true ->
            {reply, seen, State#state{seen = Seen#{Component => {Queue, Ids}}}};
        false ->
            Kept = forget_old({queue:in({Id, Now}, Queue), Ids#{Id => Now}}, Now, State),
            {reply, new, State#state{seen = Seen#{Component => Kept}}}
    end;
handle_call(_Request, _From, State) -> {reply, {error, badarg}, State}.

%% Drops ids beyond max_ids (oldest first) and ids older than `remember` seconds.
forget_old({Queue, Ids}, Now, #state{remember = Remember, max_ids = Max} = State) ->
    case queue:peek(Queue) of
        {value, {Id, At}} when map_size(Ids) > Max; Now - At >= Remember * 1000 ->
            forget_old({queue:drop(Queue), maps:remove(Id, Ids)}, Now, State);
        _ ->
            {Queue, Ids}
    end.

handle_cast({refused, Key, Sender}, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:refused(Key, Sender, Log)}};
handle_cast(_Msg, State) -> {noreply, State}.

handle_info(samtek_log_flush, #state{log = Log} = State) ->
    {noreply, State#state{log = samtek_log:flush(Log)}};
handle_info(_Info, State) -> {noreply, State}.

terminate(_Reason, #state{log = Log}) -> samtek_log:flush(Log), ok.

code_change(_OldVsn, State, _Extra) -> {ok, State}.
