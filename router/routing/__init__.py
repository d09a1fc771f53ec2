"""Routing: scoring evidence matches per person, the Router, and the Route values it returns."""
