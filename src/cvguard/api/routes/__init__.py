"""HTTP routes, one module per resource; each stays thin: parse, call the core, shape the reply."""
