"""services/formatter."""
