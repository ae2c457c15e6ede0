"""The node's own web interface (issue 15): static pages and scripts that read the public JSON routes.

``pages`` serves them; ``html/`` holds the pages and ``static/`` their scripts and style. Nothing is loaded
from any third party, and every response carries a strict Content-Security-Policy (docs/web.md).
"""
