"""Running runs: providers (Ollama, OpenAI-compatible), the engine, its tasks and event stream."""
