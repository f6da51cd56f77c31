"""Slack listeners: parse the payload, call the core (bot.brain), render, reply. No YAML, SQL or docker."""
