"""The state of Entities: users, assistants, threads, messages, runs, and the REST API over them."""
