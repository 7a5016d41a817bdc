%%% mod_samtek_mention: hands SAMTEK the room messages addressed to it, and only those.
%%% The same protocol as deploy/prosody/mod_samtek_mention.lua (urn:samtek:room:0); see
%%% README.md next to this file and deploy/rooms.md ("Commands in a room").
%%%
%%% Why: SAMTEK is no occupant of the project rooms; an occupant would receive every message
%%% of every room.  mod_muc's `muc_filter_message` hook sees each groupchat message in the
%%% room's process, after the room's checks (only occupants with voice, and MucSub
%%% subscribers, get here), with the sender's real JID even when the room hides it from the
%%% occupants.  For a message that starts with the nick ("SAMTEK: møter", "SAMTEK, møter",
%%% "@SAMTEK møter") a copy goes to the component:
%%%
%%%   <message from="room@conference.region.test" to="samtek.region.test" type="normal">
%%%     <addressed xmlns="urn:samtek:room:0" jid="kari@region.test">møter</addressed>
%%%   </message>
%%%
%%% The message itself reaches the room unchanged.  SAMTEK answers in the room.
-module(mod_samtek_mention).
-behaviour(gen_mod).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([muc_filter_message/3]).

-include("xmpp.hrl").
-include("mod_muc_room.hrl").

-define(NS, <<"urn:samtek:room:0">>).
-define(MAX_BODY, 2048).  % bytes; SAMTEK refuses commands longer than 500 characters anyway
%% Late, as in Prosody (priority -10 there): after filters that may change or drop it.
-define(PRIORITY, 90).

start(Host, _Opts) ->
    ejabberd_hooks:add(muc_filter_message, Host, ?MODULE, muc_filter_message, ?PRIORITY).

stop(Host) ->
    ejabberd_hooks:delete(muc_filter_message, Host, ?MODULE, muc_filter_message, ?PRIORITY).

reload(_Host, _NewOpts, _OldOpts) -> ok.

depends(_Host, _Opts) -> [{mod_muc, hard}].

mod_opt_type(component) -> econf:jid();
mod_opt_type(nick) -> econf:non_empty(econf:binary()).

%% `component` has no default: ejabberd refuses to start the module without it.
mod_options(_Host) -> [component, {nick, <<"SAMTEK">>}].

mod_doc() ->
    #{desc => [<<"Forwards the groupchat messages addressed to SAMTEK (\"SAMTEK: next meeting\") "
                 "to its component, with the sender's real JID.  "
                 "See deploy/ejabberd/README.md.">>],
      opts => [{component, #{value => "JID", desc => <<"SAMTEK's component (required).">>}},
               {nick, #{value => "binary()",
                        desc => <<"The address, as SAMTEK's [rooms] nick (SAMTEK).">>}}]}.

%% Acc is `drop` when an earlier hook dropped the message: then there is nothing to forward.
muc_filter_message(#message{from = #jid{} = From} = Packet,
                   #state{jid = RoomJID, server_host = Host}, FromNick)
  when FromNick /= <<>> ->  % <<>>: not an occupant (a service admin may post from outside)
    Body = xmpp:get_text(Packet#message.body),
    case byte_size(Body) =< ?MAX_BODY andalso command_of(Body, nick(Host)) of
        Command when is_binary(Command) ->
            Component = gen_mod:get_module_opt(Host, ?MODULE, component),
            Sender = jid:encode(jid:remove_resource(From)),
            Addressed = #xmlel{name = <<"addressed">>,
                               attrs = [{<<"xmlns">>, ?NS}, {<<"jid">>, Sender}],
                               children = [{xmlcdata, Command}]},
            ejabberd_router:route(#message{from = jid:remove_resource(RoomJID),
                                           to = Component, type = normal,
                                           sub_els = [Addressed]});
        _ ->
            ok
    end,
    Packet;
muc_filter_message(Acc, _MUCState, _FromNick) ->
    Acc.

nick(Host) -> lower(gen_mod:get_module_opt(Host, ?MODULE, nick)).

%% The command after the address, or false when the message is not addressed to SAMTEK.
%% Byte-wise as the Prosody module: ASCII case folding only, Lua's %s for white space.
command_of(Body, Nick) ->
    Text = trim(Body),
    Lower = lower(Text),
    after_prefix(Text, Lower, [<<"@", Nick/binary>>, Nick]).

after_prefix(_Text, _Lower, []) ->
    false;
after_prefix(Text, Lower, [Prefix | More]) ->
    Size = byte_size(Prefix),
    case Lower of
        <<Prefix:Size/binary, _/binary>> ->
            %% a separator must follow: "SAMTEKs møte" is no address
            case separated(binary:part(Text, Size, byte_size(Text) - Size), false) of
                false -> after_prefix(Text, Lower, More);
                Command -> Command
            end;
        _ ->
            after_prefix(Text, Lower, More)
    end.

%% Lua's "^[%s:,]+(%S.*)$": at least one separator, then the rest from its first non-space.
%% Only separators left (the text is trimmed, so the last is ':' or ','): Lua's backtracking
%% makes that last one the command.
separated(<<C, Rest/binary>> = Bin, Seen) ->
    case is_separator(C) of
        true when Seen, Rest == <<>>, (C == $: orelse C == $,) -> Bin;
        true -> separated(Rest, true);
        false when Seen -> Bin;
        false -> false
    end;
separated(<<>>, _Seen) ->
    false.

is_separator(C) -> is_space(C) orelse C == $: orelse C == $,.

trim(Bin) -> trim_right(trim_left(Bin)).

trim_left(<<C, Rest/binary>> = Bin) ->
    case is_space(C) of
        true -> trim_left(Rest);
        false -> Bin
    end;
trim_left(<<>>) -> <<>>.

trim_right(<<>>) -> <<>>;
trim_right(Bin) ->
    Last = binary:last(Bin),
    case is_space(Last) of
        true -> trim_right(binary:part(Bin, 0, byte_size(Bin) - 1));
        false -> Bin
    end.

is_space(C) -> C == $\s orelse (C >= $\t andalso C =< $\r).  % \t \n \v \f \r

lower(Bin) -> << <<(ascii_lower(C))>> || <<C>> <= Bin >>.

ascii_lower(C) when C >= $A, C =< $Z -> C + 32;
ascii_lower(C) -> C.
