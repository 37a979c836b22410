"""cvguard: cyber-violence governance for content platforms.

The public surface is small: :class:`Screener` turns text into an explained :class:`Verdict`;
the taxonomy says what the categories mean. Everything else is reached through the CLI
(``cvguard``) or the HTTP API (``cvguard serve``).
"""

from cvguard.detection.screen import Screener
from cvguard.taxonomy import Category, Taxonomy, load_taxonomy
from cvguard.verdict import Span, Verdict

__all__ = ["Category", "Screener", "Span", "Taxonomy", "Verdict", "load_taxonomy"]
__version__ = "0.1.0"
