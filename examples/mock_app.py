"""The example connector as a plain ASGI app, for any ASGI server.

    uvicorn --app-dir examples mock_app:app --workers 2 --port 8001

Each worker process keeps its own in-memory directory.
"""

import os

from mock_connector import integration

import server

app = server.asgi(integration, token=os.environ.get("CONNECTOR_TOKEN") or None)
