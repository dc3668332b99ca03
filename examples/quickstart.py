"""The Ollama Entities quick start, against an Entities server.

    make run                                  # in another terminal; it prints an admin key
    export ENTITIES_API_KEY=ek_...            # that key (ENTITIES_BASE_URL defaults to :8000)
    python examples/quickstart.py

No Ollama? ``make fake-ollama`` serves a stand-in with a fake ``llama3.1``.
"""

from entities_api import InferenceFactory, OllamaClient
from entities_api.services.logging_service import LoggingUtility

logging_utility = LoggingUtility()

client = OllamaClient()  # ENTITIES_BASE_URL and ENTITIES_API_KEY from the environment

user = client.user_service.create_user(name="test_user")
print(f"User created: ID: {user.id}")

assistant = client.assistant_service.create_assistant(
    user_id=user.id,
    name="Mathy",
    description="test_case",
    model="llama3.1",
    instructions="You are a helpful assistant",
)
print(f"Assistant created: ID: {assistant.id}")

thread = client.thread_service.create_thread(participant_ids=[user.id])

message = client.message_service.create_message(
    thread_id=thread.id,
    content="Can you help me with a math problem?",
    role="user",
    sender_id=user.id,
)
print(f"Message created: ID: {message.id}")

run = client.run_service.create_run(thread_id=thread.id, assistant_id=assistant.id)
print(f"Run created: ID: {run.id}")

inference = InferenceFactory().get_inference(inference_type="local", available_functions=None)
for chunk in inference.runner.process_conversation(
    thread_id=thread.id,
    message_id=message.id,
    run_id=run.id,
    assistant_id=assistant.id,
    model="llama3.1",
):
    logging_utility.debug(f"Received chunk: {chunk}")
    print(chunk, end="", flush=True)
print()
