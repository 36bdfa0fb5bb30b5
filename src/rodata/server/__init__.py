"""The HTTP server: one uvicorn process, one event loop, answers straight from the mapped pages."""
