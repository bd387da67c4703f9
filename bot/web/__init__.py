"""The starlette app: webhooks, API routes, report pages, WebSocket, health and metrics."""
