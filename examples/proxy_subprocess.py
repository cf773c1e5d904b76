"""Programs outside the process: a child Python process, through the proxy.

Run with ``python examples/proxy_subprocess.py`` (needs ``pip install
"aiointercept[tls]"``); it exits non-zero if anything differs from what the
comments say. Nothing leaves the machine: the child's requests go to the
block's proxy, which answers them from the routes, with a certificate for
each https host issued by the process's certificate authority.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from yarl import URL

from aiointercept import aiointercept

# The code under test runs this in a child process: a plain standard-library
# client, with hard-coded URLs and no knowledge of the mock.
CHILD = """
import json, urllib.request
with urllib.request.urlopen("https://api.example.com/v1/status") as reply:
    status = json.load(reply)
request = urllib.request.Request(
    "http://hooks.example.com/deploy", data=b"version=2", method="POST"
)
with urllib.request.urlopen(request) as reply:
    print(json.dumps({"status": status, "deploy": reply.status}))
"""


async def main() -> None:
    # [child]
    async with aiointercept() as m:
        env = m.proxy_env()  # ask first: routes for any host can then be reached
        m.get("https://api.example.com/v1/status", payload={"healthy": True})
        m.post("http://hooks.example.com/deploy", status=202)

        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, env=env, stdout=subprocess.PIPE
        )
        output, _ = await child.communicate()
        assert child.returncode == 0
        assert json.loads(output) == {"status": {"healthy": True}, "deploy": 202}

        # the records show the URLs the child asked for, with its bodies
        deploy = m.requests[("POST", URL("http://hooks.example.com/deploy"))][0]
        assert deploy.captured_body == b"version=2"
    # [/child]


if __name__ == "__main__":
    asyncio.run(main())
