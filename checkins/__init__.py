"""The domain: members, buddies, outcalls, the escalation policy, sealing and the engine.

Nothing here imports a messenger library; the bot's adapters translate to and from it.
"""
