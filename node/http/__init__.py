"""The node's HTTP API (DESIGN.md §8): the application and its lifecycle (``app``), what handlers reach
(``context``), middleware, the JSON/msgpack wire format and API errors (``wire``), the route modules
(``routes``) and the server process (``server``)."""
