"""A network and who is in it: people, evidence, ties, preferences, API keys."""
