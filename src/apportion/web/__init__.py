"""The web UI: server-rendered pages (Jinja2), each the HTML face of one /api/v1 endpoint,
with their styles, scripts and charts shipped in the package (nothing from a CDN)."""
