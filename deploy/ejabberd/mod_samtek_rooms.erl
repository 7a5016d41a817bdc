%%% mod_samtek_rooms: lets a trusted XMPP component (SAMTEK) add or remove a XEP-0402 bookmark
%%% (urn:xmpp:bookmarks:1) in a local user's PEP, so a new project-room member finds the room
%%% in every client.  The same protocol as deploy/prosody/mod_samtek_rooms.lua
%%% (urn:samtek:rooms:0); see README.md next to this file.
%%%
%%% Why a module: only the account itself may publish to its PEP nodes.  The item is
%%% published through mod_pubsub as the user, with the node options XEP-0402 requires, so
%%% the node is created the way a XEP-0402 client would create it.
-module(mod_samtek_rooms).
-behaviour(gen_mod).
-behaviour(gen_server).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).
-export([process_iq/1, decode_iq_subel/1]).

-include("xmpp.hrl").
-include("logger.hrl").

-define(NS, <<"urn:samtek:rooms:0">>).
-define(NS_BOOKMARKS, <<"urn:xmpp:bookmarks:1">>).
-define(MAX_LOG_KEYS, 1000).

start(Host, Opts) ->
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, ?NS, ?MODULE, process_iq),
    gen_mod:start_child(?MODULE, Host, Opts).

stop(Host) ->
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, ?NS),
    gen_mod:stop_child(?MODULE, Host).

reload(_Host, _NewOpts, _OldOpts) -> ok.

depends(_Host, _Opts) -> [{mod_pubsub, hard}].

mod_opt_type(trusted) -> econf:list(econf:jid());
mod_opt_type(log_interval) -> econf:pos_int();
mod_opt_type(log_burst) -> econf:pos_int().

mod_options(_Host) -> [{trusted, []}, {log_interval, 60}, {log_burst, 10}].

mod_doc() ->
    #{desc => [<<"XEP-0402 bookmarks written by SAMTEK into a project-room member's PEP.  "
                 "See deploy/ejabberd/README.md.">>],
      opts => [{trusted, #{value => "[JID]", desc => <<"Component JIDs allowed to write.">>}},
               {log_interval, #{value => "seconds", desc => <<"Log rate window (default 60).">>}},
               {log_burst, #{value => "pos_integer()", desc => <<"Lines per window (10).">>}}]}.

decode_iq_subel(El) -> El.

%% <iq type='set' to='region.test'><bookmark xmlns='urn:samtek:rooms:0' jid='ola@…'
%% room='e134@conference…' [remove='true']><conference xmlns='urn:xmpp:bookmarks:1' …/>
%% </bookmark></iq>
process_iq(#iq{from = From, to = #jid{lserver = Host}, type = set, lang = Lang,
               sub_els = [#xmlel{name = <<"bookmark">>} = El]} = IQ) ->
    case is_trusted(From, Host) of
        false ->
            log(Host, refused, jid:encode(jid:remove_resource(From)),
                "bookmark request from untrusted ~ts refused", [jid:encode(From)]),
            xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted rooms controller">>, Lang));
        true ->
            bookmark(IQ, El, Host)
    end;
process_iq(#iq{from = From, to = #jid{lserver = Host}, lang = Lang} = IQ) ->
    case is_trusted(From, Host) of
        false ->
            log(Host, refused, jid:encode(jid:remove_resource(From)),
                "bookmark request from untrusted ~ts refused", [jid:encode(From)]),
            xmpp:make_error(IQ, xmpp:err_forbidden(<<"Not a trusted rooms controller">>, Lang));
        true ->
            xmpp:make_error(IQ, xmpp:err_bad_request(<<"expected <bookmark/> in a set">>, Lang))
    end.

is_trusted(From, Host) ->
    Bare = jid:tolower(jid:remove_resource(From)),
    lists:member(Bare, [jid:tolower(jid:remove_resource(J))
                        || J <- gen_mod:get_module_opt(Host, ?MODULE, trusted)]).

bookmark(#iq{lang = Lang} = IQ, El, Host) ->
    User = try jid:decode(fxml:get_tag_attr_s(<<"jid">>, El)) catch _:_ -> error end,
    Room = try jid:decode(fxml:get_tag_attr_s(<<"room">>, El)) catch _:_ -> error end,
    case {User, Room} of
        {#jid{luser = U, lserver = Host, lresource = <<>>}, #jid{lresource = <<>>}}
          when U /= <<>> ->
            UserJID = jid:make(U, Host),
            ItemId = jid:encode(Room),
            PEP = {U, Host, <<>>},
            Result = case fxml:get_tag_attr_s(<<"remove">>, El) of
                         <<"true">> ->
                             case mod_pubsub:delete_item(PEP, ?NS_BOOKMARKS, UserJID, ItemId,
                                                         true) of
                                 {error, #stanza_error{reason = 'item-not-found'}} -> ok;
                                 Other -> Other
                             end;
                         _ ->
                             publish(PEP, Host, UserJID, ItemId, El)
                     end,
            case Result of
                {error, #stanza_error{} = Err} ->
                    log(Host, failed, jid:encode(UserJID), "bookmark for ~ts in ~ts failed: ~p",
                        [ItemId, jid:encode(UserJID), Err#stanza_error.reason]),
                    xmpp:make_error(IQ, Err);
                {error, Why} ->
                    log(Host, failed, jid:encode(UserJID), "bookmark for ~ts in ~ts failed: ~p",
                        [ItemId, jid:encode(UserJID), Why]),
                    xmpp:make_error(IQ, xmpp:err_internal_server_error());
                {result, _} -> xmpp:make_iq_result(IQ);
                ok -> xmpp:make_iq_result(IQ)
            end;
        _ ->
            xmpp:make_error(IQ, xmpp:err_bad_request(<<"Need jid (a local user) and room">>,
                                                     Lang))
    end.

publish(PEP, Host, UserJID, ItemId, El) ->
    case fxml:get_subtag_with_xmlns(El, <<"conference">>, ?NS_BOOKMARKS) of
        false ->
            {error, xmpp:err_bad_request(<<"Missing <conference/>">>, <<"en">>)};
        Conference ->
            case ensure_node(PEP, Host, UserJID) of
                ok ->
                    %% As a XEP-0402 client publishes (23.01 knows only these two
                    %% publish-options): a node with other options is refused.
                    PubOpts = [{persist_items, true}, {access_model, whitelist}],
                    mod_pubsub:publish_item(PEP, Host, ?NS_BOOKMARKS, UserJID, ItemId,
                                            [Conference], PubOpts, all);
                Error ->
                    Error
            end
    end.

%% The node with the options XEP-0402 requires (the same the Prosody module uses).
ensure_node(PEP, Host, UserJID) ->
    Fields = [#xdata_field{var = <<"FORM_TYPE">>, type = hidden,
                           values = [<<"http://jabber.org/protocol/pubsub#node_config">>]},
              #xdata_field{var = <<"pubsub#persist_items">>, values = [<<"true">>]},
              #xdata_field{var = <<"pubsub#max_items">>, values = [<<"max">>]},
              #xdata_field{var = <<"pubsub#send_last_published_item">>, values = [<<"never">>]},
              #xdata_field{var = <<"pubsub#access_model">>, values = [<<"whitelist">>]}],
    Config = pubsub_node_config:decode(Fields),
    case mod_pubsub:create_node(PEP, Host, ?NS_BOOKMARKS, UserJID, <<"pep">>, all, Config) of
        {result, _} -> ok;
        {error, #stanza_error{reason = conflict}} -> ok;  % it exists already
        Error -> Error
    end.

%%% Per-host process: the rate-limited log (any account can send thousands of refused
%%% requests; one line per sender and interval, then a count).
-record(state, {interval :: pos_integer(), burst :: pos_integer(), limiters = #{} :: map()}).

log(Host, Kind, Key, Fmt, Args) ->
    gen_server:cast(gen_mod:get_module_proc(Host, ?MODULE), {log, Kind, Key, Fmt, Args}).

init([_Host, Opts]) ->
    process_flag(trap_exit, true),
    {ok, #state{interval = gen_mod:get_opt(log_interval, Opts),
                burst = gen_mod:get_opt(log_burst, Opts)}}.

handle_call(_Request, _From, State) -> {reply, {error, badarg}, State}.

handle_cast({log, Kind, Key, Fmt, Args}, #state{limiters = Ls, burst = Burst} = State) ->
    L = maps:get(Kind, Ls, #{lines => 0, keys => #{}, suppressed => 0, timer => none}),
    #{lines := Lines, keys := Keys, suppressed := N, timer := Timer} = L,
    Seen = maps:is_key(Key, Keys),
    Keys1 = case Seen orelse maps:size(Keys) >= ?MAX_LOG_KEYS of
                true -> Keys;
                false -> Keys#{Key => true}
            end,
    Timer1 = case Timer of
                 none -> erlang:send_after(State#state.interval * 1000, self(), {flush, Kind});
                 _ -> Timer
             end,
    L1 = case not Seen andalso Lines < Burst of
             true ->
                 ?WARNING_MSG(Fmt, Args),
                 L#{lines => Lines + 1, keys => Keys1, timer => Timer1};
             false ->
                 L#{suppressed => N + 1, keys => Keys1, timer => Timer1}
         end,
    {noreply, State#state{limiters = Ls#{Kind => L1}}};
handle_cast(_Msg, State) -> {noreply, State}.

handle_info({flush, Kind}, State) -> {noreply, flush(Kind, State)};
handle_info(_Info, State) -> {noreply, State}.

terminate(_Reason, #state{limiters = Ls} = State) ->
    lists:foldl(fun flush/2, State, maps:keys(Ls)),
    ok.

code_change(_OldVsn, State, _Extra) -> {ok, State}.

flush(Kind, #state{limiters = Ls, interval = Interval} = State) ->
    case maps:get(Kind, Ls, none) of
        #{suppressed := N, keys := Keys, timer := Timer} ->
            Timer == none orelse erlang:cancel_timer(Timer),
            N > 0 andalso
                ?WARNING_MSG("~B more ~ts not logged (interval ~Bs, ~B~ts sender(s))",
                             [N, what(Kind), Interval, maps:size(Keys),
                              case maps:size(Keys) >= ?MAX_LOG_KEYS of
                                  true -> "+";
                                  false -> ""
                              end]);
        none ->
            ok
    end,
    State#state{limiters = maps:remove(Kind, Ls)}.

what(refused) -> "refused bookmark requests";
what(failed) -> "failed bookmark writes".
