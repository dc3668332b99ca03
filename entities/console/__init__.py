"""The operator's console: admin pages for Ollama's models, live runs, failures and usage."""
