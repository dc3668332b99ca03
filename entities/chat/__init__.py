"""The browser chat: the page at ``/``, its login, and the thread websocket it talks over."""
