"""The Slack edge: a slack-bolt app over the core's lifecycle and ledger (see bots/README.md)."""
