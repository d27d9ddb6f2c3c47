"""The gateway: authenticates each dialect its own way, turns requests into commands, answers like the vendor."""
