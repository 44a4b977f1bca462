"""Local stand-ins for the chat platforms (Zalo OA, Facebook Messenger), for tests and for trying the
channels without a platform account.

Each platform module (`zalo`, `messenger`) speaks its platform's documented wire format towards our Rasa
server: it signs webhook events with the configured secret, receives the send API calls, serves tokens,
and answers with the platform's error codes on demand. `create_app(settings)` of each module returns an
aiohttp sub-app mounted at `/<platform>/`, with the shared chat page (`page.add_chat_page`) and this API:

  POST /api/say     {user_id, text}                  the user types a message (a signed webhook is sent)
  POST /api/tap     {user_id, payload, title}        the user taps a button the bot sent
  POST /api/event   {user_id, kind, ...}             platform events: follow, location, image...
  GET  /api/messages?user_id=&after=N                what the bot sent to the user: {messages: [{n, text?,
                                                     buttons?: [{title, payload?, url?, phone?}], image?,
                                                     sender_name?}]}, n increasing
`python -m bot.simulators zalo messenger` serves them on SIMULATOR_PORT (`make run` starts it).
"""
