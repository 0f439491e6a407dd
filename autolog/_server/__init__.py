"""The ``autolog ui`` server: an ASGI app (FastAPI on uvicorn, the ``server`` extra) with the JSON REST API under
``/api`` (OpenAPI at ``/docs``) and the web UI's static files at ``/``."""
