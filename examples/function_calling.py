"""Function calling from the client: the model asks, this process answers.

The assistant declares ``get_weather``; when a run needs it the run waits
(``requires_action``), the runner calls the Python function given in ``available_functions``,
submits its output and streams the rest of the answer::

    export ENTITIES_API_KEY=ek_…          # make run prints one
    python examples/function_calling.py "What's the weather in Paris?"

Functions the server runs itself (``calculate``, ``get_current_time``) need nothing here:
name them in the assistant's ``tools`` and the run calls them without stopping.
"""

import sys

from entities_api import InferenceFactory, OllamaClient
from entities_api.inference import TextEvent, ToolCallEvent, ToolOutputEvent

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "e.g. Paris"}},
            "required": ["city"],
        },
    },
}


def get_weather(city: str) -> dict[str, object]:
    """Your code: a weather service, a database, anything. Return text or JSON-able data."""
    return {"city": city, "sky": "sunny", "celsius": 24}


def main(question: str) -> None:
    client = OllamaClient()
    assistant = client.assistant_service.create_assistant(
        name="Weatherman",
        model="llama3.1",
        instructions="Answer weather questions with the get_weather tool.",
        tools=[WEATHER],
    )
    thread = client.thread_service.create_thread(messages=[{"role": "user", "content": question}])
    inference = InferenceFactory(client).get_inference(
        inference_type="local", available_functions={"get_weather": get_weather}
    )
    # process_conversation(...) yields the text alone; the events show the calls too.
    for event in inference.runner.process_conversation_events(
        thread_id=thread.id, assistant_id=assistant.id
    ):
        if isinstance(event, ToolCallEvent):
            print(f"[calling {event.name}({event.arguments})]")
        elif isinstance(event, ToolOutputEvent):
            print(f"[{event.name} returned {event.output}]")
        elif isinstance(event, TextEvent):
            print(event.text, end="", flush=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "What's the weather in Paris?")
