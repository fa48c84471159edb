"""pgwire in a browser page: ``python -m pgwire browser``.

The command serves, on localhost, a page that runs pgwire's async driver inside Pyodide
(CPython compiled to WebAssembly) and queries PostgreSQL over the browser's WebSocket: through
a bridge of its own in front of a PostgreSQL server, or DSQL's ``wss://`` endpoint with IAM
tokens the server makes. Nothing comes from the network: Pyodide from the npm package
installed here, pgwire and its dependencies as wheels made from what is installed here.

One module per concern: ``server`` (the HTTP server: files, settings, tokens), ``bridge``
(the WebSocket-to-TCP bridge), ``wheels`` (wheels of the installed packages), ``page`` (what
runs inside Pyodide), ``cli`` (the command); ``static/`` holds the page.
"""
