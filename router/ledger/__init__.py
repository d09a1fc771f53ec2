"""The give/take ledger: favours, fairness in routing, and the weekly summary."""
