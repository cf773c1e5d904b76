"""Run an example script with every log record labelled: ``nox -s demo``
uses it to tell the lines the ``aiointercept`` logger writes on purpose from
any other.

Usage: ``python examples/_labelled_logs.py LABEL SCRIPT``.
"""

from __future__ import annotations

import logging
import runpy
import sys

label, script = sys.argv[1:]
logging.basicConfig(format=f"{label}%(levelname)s %(name)s: %(message)s")
runpy.run_path(script, run_name="__main__")
