"""Programs outside the process: curl, through the proxy.

Run with ``python examples/proxy_curl.py`` (needs ``pip install
"aiointercept[tls]"``, and curl; without curl it says so and does nothing);
it exits non-zero if anything differs from what the comments say. Nothing
leaves the machine.
"""

from __future__ import annotations

import shutil
import subprocess

from aiointercept import aiointercept


def main() -> None:
    if shutil.which("curl") is None:
        print("curl is not installed: nothing to show")
        return
    # [curl]
    with aiointercept() as m:
        env = m.proxy_env()
        m.get("https://api.github.com/repos/octo/app", payload={"stars": 42})

        result = subprocess.run(
            ["curl", "--silent", "--fail", "https://api.github.com/repos/octo/app"],
            env=env,
            capture_output=True,
            check=True,
            timeout=30,
        )
        assert result.stdout == b'{"stars": 42}'

        # a status the route chose makes curl --fail exit with code 22
        m.get("https://api.github.com/repos/octo/gone", status=404)
        missing = subprocess.run(
            ["curl", "--silent", "--fail", "https://api.github.com/repos/octo/gone"],
            env=env,
            timeout=30,
        )
        assert missing.returncode == 22
    # [/curl]


if __name__ == "__main__":
    main()
