"""services/intake."""
