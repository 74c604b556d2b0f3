"""In-process emulators of the external services the bot talks to, for tests."""
