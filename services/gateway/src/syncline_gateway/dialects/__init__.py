"""The vendor dialects the gateway speaks; each maps Syncline's errors to its own error body."""
