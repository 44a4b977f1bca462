"""Human takeover: conversation state (engine), agent accounts and sessions (agents), notifications between
processes (notify), escalation wording and office hours (escalation), periodic duties (sweeper) and the
console's HTTP API (api, mounted in the bot/web app)."""
