"""The console at /console: live requests, health charts, a config playground, "try it".

``hub.Console`` holds one worker's state (fed by ``Observability.finish``), ``routes`` the
HTTP surface and its guard, ``dryrun`` the playground, ``static/`` the page (no build step).
See docs/console.md.
"""
