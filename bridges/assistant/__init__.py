"""The chat assistant: commands sent to the component's JID (and in project rooms).

Kept import-free: samtek.config imports `bridges.assistant.config`. Entry points are
`bridges.assistant.handler.CommandHandler` (rooms call it with a `room.RoomContext`) and
`bridges.assistant.build.build_chat_assistant` (the service wires it).
"""
