"""Syncline's Kafka contracts: envelope, messages, topic registry and status enums. No I/O."""
