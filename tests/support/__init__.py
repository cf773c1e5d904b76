"""What the tests share, one module per concern.

* :mod:`~tests.support.internals`: every private name of aiointercept that the
  tests use (the only module of the tests that imports one).
* :mod:`~tests.support.backends`: pin a test to asyncio or to trio.
* :mod:`~tests.support.blocks`: block servers seen from outside (how many are
  listening, their ports).
* :mod:`~tests.support.clients`: one HTTP client per kind (aiohttp, httpx,
  requests, urllib3) used the same way, and :func:`~tests.support.clients.each_client`
  to run a test once per kind.
* :mod:`~tests.support.journal`: one request to a block, and what it recorded.
* :mod:`~tests.support.upstream`: the "real" remote host, a plain HTTP server
  on 127.0.0.1.
* :mod:`~tests.support.loopback_net` and :mod:`~tests.support.aiohttp_guard`:
  the safety nets that keep every test on the machine, at the level of the
  socket module and of aiohttp.
* :mod:`~tests.support.inner_pytest`: projects written with ``pytester`` and
  run in a subprocess.
* :mod:`~tests.support.cassettes`: reading cassette files, and blocks that
  record or replay them.
* :mod:`~tests.support.websocket`: WebSocket clients and an echo handler.
* :mod:`~tests.support.reliability`: sizes, resource readings and raw sockets
  of ``tests/reliability``.
* :mod:`~tests.support.paths`: where the project's files are.
"""
