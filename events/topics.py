"""Kafka topic names, shared by producers, the worker and the tools."""

LIFE_EVENTS = "life-events"
DEAD_LETTERS = "life-events.dead-letter"
