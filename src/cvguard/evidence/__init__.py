"""Evidence: preserved content in a hash-chained vault, exported as a package anyone can verify.

Pure parts only (no database or web import): ``chain`` (canonical JSON, the SHA-256 chain),
``package`` (the zip: build and verify), ``pdf`` (the report, Chinese rendered with the packaged
font). The vault itself is ``store.evidence``; the routes ``api.routes.evidence``.
"""
