"""Protection of the people targeted: pure rules (no web, database or Redis import)."""
