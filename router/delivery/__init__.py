"""Delivery: the transactional outbox and the channels messages go out through."""
