"""The REST API under /v1: the OpenAI Assistants v2 wire format plus our extensions."""
